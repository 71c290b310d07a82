// A resident's receipt: made from what the association serves (the event's bytes, its
// inclusion proof, the checkpoint the node signed and the association cosigned), checked here
// by the one checker the dashboard also runs (../../dashboard/src/receipt.js: WebCrypto
// Ed25519 and SHA-256) against the keys the association publishes, never against anything
// this node says. A receipt kept from before is checked again, and against the newest
// checkpoint (consistency proof), on the page `#/receipt`.

import { RECEIPT_FORMAT, ReceiptError, parseNote, verifyNewer, verifyReceipt } from '../../dashboard/src/receipt.js';

import { CALL, reason } from './api.js';
import { el, main, show } from './dom.js';
import { t } from './i18n.js';

/** How long a new event may take to reach a cosigned checkpoint, and how often to look. */
const COSIGN_WAIT_MS = 60_000;
const COSIGN_POLL_MS = 1_000;
/** Largest receipt read from a paste or a file. */
const RECEIPT_LEN_MAX = 64 * 1024;

const base64 = (bytes) => btoa(String.fromCharCode(...bytes));
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The hromada's code in a checkpoint origin `vidkryto/<code>`. */
function codeOf(origin) {
  const match = /^vidkryto\/(UA\d{17})$/.exec(origin ?? '');
  if (!match) throw new ReceiptError('format', `the receipt is of ${origin}, which is no hromada's log`);
  return match[1];
}

/** The receipt of event `seq` of `code`, once a cosigned checkpoint covers it. */
export async function fetchReceipt(audit, code, seq, isCurrent = () => true) {
  const deadline = Date.now() + COSIGN_WAIT_MS;
  let last;
  while (Date.now() < deadline && isCurrent()) {
    try {
      const proof = await audit.getInclusionProof({ code, seq: BigInt(seq), treeSize: 0n }, CALL);
      if (proof.cosignedNote) {
        return {
          format: RECEIPT_FORMAT,
          origin: parseNote(proof.cosignedNote).origin,
          seq: Number(seq),
          event: base64(proof.envelope),
          checkpoint: proof.cosignedNote,
          inclusion: proof.hashes.map(base64),
        };
      }
    } catch (e) {
      // Until the association has verified the event, the proof does not exist yet.
      last = e;
    }
    await sleep(COSIGN_POLL_MS);
  }
  throw new Error(t('receiptTimeout')(last ? reason(last) : ''));
}

/**
 * Checks `receipt` against every key the association publishes for its hromada (a key rotated
 * later still proves what it signed) and its witness key; then, when the log has grown, the
 * newest cosigned checkpoint and that it extends the receipt's. Resolves to what was proved,
 * rejects with a ReceiptError (or the association's error).
 */
export async function checkReceipt(audit, receipt) {
  if (!receipt || receipt.format !== RECEIPT_FORMAT) throw new ReceiptError('format', `not a ${RECEIPT_FORMAT} receipt`);
  const code = codeOf(receipt.origin);
  const published = await audit.listKeys({ code }, CALL);
  const nodeKeys = published.keys.filter((k) => k.code === code).map((k) => k.vkey);
  if (!nodeKeys.length) throw new ReceiptError('key', `the association publishes no key of ${code}`);
  let failure;
  for (const nodeKey of nodeKeys.reverse()) {
    const keys = { nodeKey, witnessKey: published.witnessVkey };
    try {
      const proved = await verifyReceipt(receipt, keys);
      const latest = await audit.getInclusionProof({ code, seq: BigInt(receipt.seq), treeSize: 0n }, CALL);
      const newer = latest.cosignedNote ? parseNote(latest.cosignedNote) : null;
      if (!newer || newer.size <= proved.size) return proved;
      const consistency = await audit.getConsistencyProof({ code, oldSize: proved.size, newSize: newer.size }, CALL);
      return await verifyNewer(receipt, latest.cosignedNote, consistency.hashes.map(base64), keys);
    } catch (e) {
      if (!(e instanceof ReceiptError)) throw e;
      // The first key's reason is the one to show: it is the newest.
      failure ??= e;
    }
  }
  throw failure;
}

/** What a check proved, in words. */
function provedText(proved) {
  const at = proved.cosignedAt.toLocaleString(document.documentElement.lang === 'en' ? 'en-GB' : 'uk-UA', { timeZone: 'Europe/Kyiv' });
  const lines = [t('receiptHolds')(proved.seq, proved.origin, String(proved.size), at)];
  if (proved.newerSize !== undefined) lines.push(t('receiptStillHolds')(String(proved.newerSize)));
  return lines;
}

/** The outcome of a check, shown in `box`: what holds, or what fails and why. */
export async function showCheck(box, audit, receipt) {
  box.replaceChildren(el('p', {}, t('receiptChecking')));
  try {
    const proved = await checkReceipt(audit, receipt);
    box.replaceChildren(el('div', { class: 'notice', id: 'receipt-ok' },
      el('p', {}, el('strong', {}, t('receiptVerified'))), ...provedText(proved).map((line) => el('p', {}, line))));
    return true;
  } catch (e) {
    box.replaceChildren(failure(e instanceof ReceiptError ? e.code : 'association', e));
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

/** After signing: fetches the receipt of event `seq`, checks it and offers it for download. */
export async function receiptPanel(audit, code, seq, isCurrent) {
  const box = el('div', { id: 'receipt-check', 'aria-live': 'polite' }, el('p', {}, t('receiptWaiting')));
  const panel = el('section', { 'aria-labelledby': 'receipt-title', class: 'receipt' },
    el('h2', { id: 'receipt-title' }, t('receiptTitle')), box);
  if (!audit) {
    box.replaceChildren(el('p', {}, t('receiptUnavailable')));
    return panel;
  }
  (async () => {
    try {
      const receipt = await fetchReceipt(audit, code, seq, isCurrent);
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
      if (text.value.length > RECEIPT_LEN_MAX) throw new Error(t('receiptTooLarge'));
      receipt = JSON.parse(text.value);
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
