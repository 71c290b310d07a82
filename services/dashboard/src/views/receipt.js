// Checking a resident's receipt here, at the association, as a second party: the hromada's
// portal issued it and checked it with its own code; this page runs the same checker
// (receipt-check.js, receipt.js) from the association's origin, against the keys the
// association publishes and its newest cosigned checkpoint. The receipt is pasted or read from
// its file; nothing of it leaves the browser except the hromada's code and the event's position.

import { t, tOr } from '../i18n.js';
import { RECEIPT_LEN_MAX, checkWithAssociation, failureCode, parseReceipt } from '../receipt-check.js';
import { h } from '../ui.js';


function outcome(box, ok, lines, code) {
  box.replaceChildren(h('div', { class: ok ? 'receipt-ok' : 'receipt-failed', id: ok ? 'receipt-ok' : 'receipt-failed', dataset: code ? { reason: code } : {} },
    h('p', {}, h('strong', {}, t(ok ? 'receipt.ok' : 'receipt.fails'))),
    lines.map((line) => h('p', {}, line))));
}

export async function receipt({ api }) {
  const text = h('textarea', { id: 'receipt-text', rows: 10, spellcheck: 'false', 'aria-describedby': 'receipt-help' });
  const file = h('input', { type: 'file', id: 'receipt-file', accept: 'application/json,.json' });
  const result = h('div', { id: 'receipt-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', id: 'receipt-submit' }, t('receipt.check'));
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (chosen.size > RECEIPT_LEN_MAX) {
      outcome(result, false, [`${t('receipt.reason.format')}: ${t('receipt.too_large')}`], 'format');
      return;
    }
    text.value = await chosen.text();
  });
  const form = h('form', { id: 'receipt-form', class: 'receipt-form' },
    h('label', { for: 'receipt-text' }, t('receipt.paste')),
    h('p', { id: 'receipt-help', class: 'note' }, t('receipt.help')),
    text,
    h('p', {}, h('label', { for: 'receipt-file' }, t('receipt.file')), ' ', file),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = parseReceipt(text.value, t('receipt.too_large'));
    } catch (e) {
      outcome(result, false, [`${t('receipt.reason.format')}: ${e.message}`], 'format');
      return;
    }
    submit.disabled = true;
    result.replaceChildren(h('p', {}, t('receipt.checking')));
    try {
      const proved = await checkWithAssociation(api.audit, parsed);
      const { event } = proved;
      const lines = [
        t('receipt.event', {
          // The frozen code, and what a resident's receipt is of, where the page knows it.
          type: `${event.eventType}${tOr(`receipt.type.${event.eventType}`, '') && ` (${t(`receipt.type.${event.eventType}`)})`}`,
          stream: event.streamId, id: event.eventId, at: event.recordedAt.toISOString(),
        }),
        t('receipt.holds', { seq: proved.seq, origin: proved.origin, size: String(proved.size), at: proved.cosignedAt.toISOString() }),
      ];
      if (proved.newerSize !== undefined) lines.push(t('receipt.still_holds', { size: String(proved.newerSize) }));
      outcome(result, true, lines);
    } catch (e) {
      const code = failureCode(e);
      outcome(result, false, [`${t(`receipt.reason.${code}`)}: ${e.rawMessage ?? e.message}`], code);
    } finally {
      submit.disabled = false;
    }
  });
  const element = h('div', { class: 'view' },
    h('h1', { tabindex: -1 }, t('receipt.title')),
    h('p', {}, t('receipt.intro')),
    form, result);
  // Nothing here follows live updates: a re-render would clear what the person pasted.
  return { element, title: t('receipt.title'), still: true };
}
