// The page's few DOM helpers: elements built from data (text is only ever set as text, never
// parsed as markup), the main region, dates in Kyiv, and the confirmation every staff action
// goes through.

import { reason } from './api.js';
import { lang, t } from './i18n.js';

export const main = document.getElementById('main');

/** An element with attributes and children (strings become text, never markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/**
 * A link to the node's own sign-in that comes back to the page at `route` (`#/…`), in the
 * language the person has chosen.
 */
export function signInLink(route, label) {
  const next = `/${location.search}${route}`;
  return el('a', { class: 'button', href: `/auth/sign-in?next=${encodeURIComponent(next)}` }, label);
}

/** Widths from data attributes (the policy allows no inline styles). */
export function applyWidths(root) {
  for (const bar of root.querySelectorAll('[data-width]')) bar.style.width = `${bar.dataset.width}%`;
}

/** Shows `children` as the page's main content. */
export function show(...children) {
  main.replaceChildren(...children);
  applyWidths(main);
  main.setAttribute('aria-busy', 'false');
}

const locale = () => (lang() === 'en' ? 'en-GB' : 'uk-UA');

/** A protobuf Timestamp as a date in Kyiv. */
export function formatDate(ts) {
  if (!ts) return '';
  return new Date(Number(ts.seconds) * 1000).toLocaleDateString(locale(), { timeZone: 'Europe/Kyiv' });
}

/** A civil date `YYYY-MM-DD` as the reader's language writes it. */
export function formatCivil(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text ?? '')) return '';
  const [y, m, d] = text.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12)).toLocaleDateString(locale(), { timeZone: 'UTC' });
}

/** Today's civil date in Kyiv, `YYYY-MM-DD`. */
export function todayInKyiv() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Kyiv', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date());
}

/** Whether the civil date `due` has passed in Kyiv (a deadline's day counts as on time). */
export function isPast(due) {
  return /^\d{4}-\d{2}-\d{2}$/.test(due ?? '') && todayInKyiv() > due;
}

/**
 * Asks the person to confirm an action, saying what the log will record. Resolves to true only
 * when they confirm; Escape and Cancel resolve to false. Focus returns to where it was.
 */
export function confirmAction(what, lines) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const confirm = el('button', { type: 'button', id: 'confirm' }, t('confirm'));
    const cancel = el('button', { type: 'button', class: 'secondary', id: 'cancel' }, t('cancel'));
    const dialog = el('dialog', { 'aria-labelledby': 'confirm-title', id: 'confirm-dialog' },
      el('h2', { id: 'confirm-title' }, what),
      el('p', {}, t('willRecord')),
      el('ul', {}, lines.map((line) => el('li', {}, line))),
      el('p', { class: 'meta' }, t('cannotUndo')),
      el('div', { class: 'actions' }, confirm, cancel));
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      if (before instanceof HTMLElement) before.focus();
      resolve(answer);
    };
    confirm.addEventListener('click', () => finish(true));
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    confirm.focus();
  });
}

/** A UUIDv7 for a command's request id (a retry sends the same one). */
export function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i += 1) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A staff action: asks for confirmation (`what`, `lines`: what the log will record), then runs
 * `call` with the triggering `button` disabled, and on success shows the page again (`reload`)
 * with what was recorded; a failure is shown in `box` and the button is enabled again. The
 * caller's request id is made once per action on the page, so a retry after a lost reply
 * records nothing twice.
 */
export async function runConfirmed({ box, button, what, lines, call, reload }) {
  if (!(await confirmAction(what, lines))) return;
  if (button) button.disabled = true;
  box.replaceChildren(el('p', {}, t('recording')));
  try {
    const result = await call();
    await reload(el('p', { class: 'notice', id: 'done' }, t('recorded')(what, String(result.firstSeq))));
    main.focus();
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
    if (button) button.disabled = false;
  }
}

/**
 * A staff form: labelled fields (`[id, label, input]`), then one button (`data-action`) that
 * shows what the log will record, waits for a confirmation and calls; the outcome is said in
 * the form. `confirm()` gives `{ what, lines, call }` from the fields' values at the click.
 */
export function staffForm({ legend, note, fields, action, label, confirm, reload }) {
  const box = el('div', { 'aria-live': 'polite' });
  const button = el('button', { type: 'button', 'data-action': action }, label);
  button.addEventListener('click', () => runConfirmed({ box, button, reload, ...confirm() }));
  return el('fieldset', { class: 'staff-form' },
    el('legend', {}, legend),
    note ? el('p', { class: 'meta' }, note) : null,
    fields.map(([id, text, input]) => el('p', { class: 'field' }, el('label', { for: id }, text), input)),
    el('div', { class: 'actions' }, button), box);
}

/**
 * Has `button` load the next page with `load(token)` (which appends it and resolves to the
 * following token, '' at the end): one load at a time, a failure shown after the button.
 */
export function pageOn(button, load, token) {
  button.hidden = !token;
  button.onclick = async () => {
    button.disabled = true;
    if (button.nextElementSibling?.classList.contains('page-error')) button.nextElementSibling.remove();
    try {
      pageOn(button, load, await load(token));
    } catch (e) {
      button.after(el('p', { class: 'error page-error' }, t('failed')(reason(e))));
    } finally {
      button.disabled = false;
    }
  };
}
