// A resident's receipt: made from what the association serves (the event's bytes, its
// inclusion proof, the checkpoint the node signed and the association cosigned), checked here
// by the one checker the dashboard also runs (../../dashboard/src/receipt-check.js over
// receipt.js: WebCrypto Ed25519 and SHA-256) against the keys the association publishes, never
// against anything this node says. A receipt kept from before is checked again, and against the
// newest checkpoint (consistency proof), on the page `#/receipt`.

import {
  RECEIPT_LEN_MAX, checkWithAssociation, failureCode, parseReceipt, receiptFromProof,
} from '../../dashboard/src/receipt-check.js';

import { CALL, reason } from './api.js';
import { el, main, show } from './dom.js';
import { t } from './i18n.js';

/** How long a new event may take to reach a cosigned checkpoint, and how often to look. */
const COSIGN_WAIT_MS = 60_000;
const COSIGN_POLL_MS = 1_000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The receipt of event `seq` of `code`, once a cosigned checkpoint covers it. */
export async function fetchReceipt(audit, code, seq, claim, isCurrent = () => true) {
  const deadline = Date.now() + COSIGN_WAIT_MS;
  let last;
  while (Date.now() < deadline && isCurrent()) {
    try {
      const receipt = receiptFromProof(await audit.getInclusionProof({ code, seq: BigInt(seq), treeSize: 0n }, CALL), claim);
      if (receipt) return receipt;
    } catch (e) {
      // Until the association has verified the event, the proof does not exist yet.
      last = e;
    }
    await sleep(COSIGN_POLL_MS);
  }
  throw new Error(t('receiptTimeout')(last ? reason(last) : ''));
}

/** What a check proved, in words. */
function provedText(proved) {
  const when = (date) => date.toLocaleString(document.documentElement.lang === 'en' ? 'en-GB' : 'uk-UA', { timeZone: 'Europe/Kyiv' });
  const at = when(proved.cosignedAt);
  const { event } = proved;
  const lines = [
    t('receiptEvent')(t('eventTypes')[event.eventType] ?? `${event.eventType}`, event.streamId, event.eventId, when(event.recordedAt)),
    t('receiptHolds')(proved.seq, proved.origin, String(proved.size), at),
  ];
  if (proved.newerSize !== undefined) lines.push(t('receiptStillHolds')(String(proved.newerSize)));
  return lines;
}

/** The outcome of a check, shown in `box`: what holds, or what fails and why. */
export async function showCheck(box, audit, receipt) {
  box.replaceChildren(el('p', {}, t('receiptChecking')));
  try {
    const proved = await checkWithAssociation(audit, receipt);
    box.replaceChildren(el('div', { class: 'notice', id: 'receipt-ok' },
      el('p', {}, el('strong', {}, t('receiptVerified'))), ...provedText(proved).map((line) => el('p', {}, line))));
    return true;
  } catch (e) {
    box.replaceChildren(failure(failureCode(e), e));
    return false;
  }
}

/** Why a receipt fails: the check that failed, in words, and the checker's own detail. */
function failure(code, e) {
  return el('div', { class: 'error', id: 'receipt-failed', 'data-reason': code },
    el('p', {}, el('strong', {}, t('receiptFails'))),
    el('p', {}, `${t('receiptReason')[code] ?? code}: ${t('receiptExplain')[code] ?? ''}`),
    el('p', { class: 'meta', lang: 'en' }, reason(e)));
}

/** A link that saves `receipt` as a JSON file. */
export function downloadLink(receipt) {
  const blob = new Blob([`${JSON.stringify(receipt, null, 2)}\n`], { type: 'application/json' });
  const name = `vidkryto-receipt-${receipt.origin.replace(/[^A-Za-z0-9]+/g, '-')}-${receipt.seq}.json`;
  return el('a', { class: 'button', id: 'receipt-download', href: URL.createObjectURL(blob), download: name }, t('receiptDownload'));
}

/**
 * After signing: fetches the receipt of event `seq` from the association, checks it (also that
 * it is the event `claim` says) and offers it for download.
 */
export async function receiptPanel(ctx, seq, claim, isCurrent) {
  const { audit } = ctx;
  const code = ctx.settings.municipality;
  const box = el('div', { id: 'receipt-check', 'aria-live': 'polite' }, el('p', {}, t('receiptWaiting')));
  const panel = el('section', { 'aria-labelledby': 'receipt-title', class: 'receipt' },
    el('h2', { id: 'receipt-title' }, t('receiptTitle')), box);
  if (!audit) {
    box.replaceChildren(el('p', {}, t('receiptUnavailable')));
    return panel;
  }
  (async () => {
    try {
      const receipt = await fetchReceipt(audit, code, seq, claim, isCurrent);
      if (!isCurrent()) return;
      const held = await showCheck(box, audit, receipt);
      if (held && isCurrent()) {
        panel.append(el('p', {}, downloadLink(receipt), ' ', el('a', { href: '#/receipt' }, t('receiptCheckLater'))));
      }
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, reason(e)));
    }
  })();
  return panel;
}

/** The page where anyone checks a receipt they kept: pasted, or read from its file. */
export function receiptPage(audit) {
  const text = el('textarea', { id: 'receipt-text', rows: '10', spellcheck: 'false', 'aria-describedby': 'receipt-help' });
  const file = el('input', { type: 'file', id: 'receipt-file', accept: 'application/json,.json' });
  const result = el('div', { id: 'receipt-result', 'aria-live': 'polite' });
  const check = el('button', { type: 'submit', id: 'receipt-submit' }, t('receiptCheck'));
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (chosen.size > RECEIPT_LEN_MAX) {
      result.replaceChildren(el('p', { class: 'error' }, t('receiptTooLarge')));
      return;
    }
    text.value = await chosen.text();
  });
  const form = el('form', { id: 'receipt-form' },
    el('label', { for: 'receipt-text' }, t('receiptPaste')),
    el('p', { id: 'receipt-help', class: 'meta' }, t('receiptHelp')),
    text,
    el('p', {}, el('label', { for: 'receipt-file' }, t('receiptFile')), ' ', file),
    check);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!audit) {
      result.replaceChildren(el('p', { class: 'error' }, t('receiptUnavailable')));
      return;
    }
    let receipt;
    try {
      receipt = parseReceipt(text.value, t('receiptTooLarge'));
    } catch (e) {
      result.replaceChildren(failure('format', e));
      return;
    }
    check.disabled = true;
    await showCheck(result, audit, receipt);
    check.disabled = false;
  });
  show(el('h1', {}, t('receiptPageTitle')), el('p', {}, t('receiptIntro')), form, result);
  main.focus();
}
