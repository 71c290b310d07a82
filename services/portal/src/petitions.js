// Residents' petitions: the list (search, status and category filters, pages), one petition
// with its statute and the council's answer, signing with a receipt, and filing a new one.

import { CALL, reason } from './api.js';
import { applyWidths, el, formatCivil, formatDate, main, pageOn, show, signInLink, uuidv7 } from './dom.js';
import { CATEGORIES, categoryName, t } from './i18n.js';
import { receiptPanel } from './receipts.js';

/** Petitions asked for per page of the list. */
const LIST_PAGE = 50;
/** The statuses a resident filters by (those with public text). */
const PUBLIC_STATUSES = [3, 4, 5, 6, 7];
/** The domain's bounds on a petition's title and text (services/domain/src/petition.rs). */
export const TITLE_LEN_MAX = 200;
export const TEXT_LEN_MAX = 10_000;

function progress(p) {
  const pct = p.signatureThreshold ? Math.min(100, (100 * p.signatureCount) / p.signatureThreshold) : 0;
  return el('div', { class: 'progress', role: 'img', 'aria-label': t('signatures')(p.signatureCount, p.signatureThreshold) },
    el('span', { 'data-width': pct.toFixed(0) }));
}

/** The list's filters from the URL's hash query (`#/?q=…&status=3&category=…`). */
function filtersOf(hash) {
  const query = new URLSearchParams(hash.split('?')[1] ?? '');
  const status = Number(query.get('status'));
  return {
    q: (query.get('q') ?? '').slice(0, 200),
    status: PUBLIC_STATUSES.includes(status) ? status : 0,
    category: CATEGORIES.includes(query.get('category')) ? query.get('category') : '',
  };
}

function filterForm(filters) {
  const select = (id, label, options, value) => el('p', { class: 'field' },
    el('label', { for: id }, label),
    el('select', { id, name: id },
      options.map(([v, text]) => el('option', { value: v, selected: String(v) === String(value) }, text))));
  const form = el('form', { id: 'filters', role: 'search', class: 'filters' },
    el('p', { class: 'field' }, el('label', { for: 'q' }, t('search')),
      el('input', { type: 'search', id: 'q', name: 'q', value: filters.q, maxlength: '200' })),
    select('status', t('statusLabel'), [[0, t('any')], ...PUBLIC_STATUSES.map((s) => [s, t('status')[s]])], filters.status),
    select('category', t('category'), [['', t('any')], ...CATEGORIES.map((c) => [c, categoryName(c)])], filters.category),
    el('p', { class: 'field' }, el('button', { type: 'submit' }, t('find'))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const key of ['q', 'status', 'category']) {
      const value = String(data.get(key) ?? '').trim();
      if (value && value !== '0') query.set(key, value);
    }
    location.hash = `#/?${query}`;
  });
  return form;
}

export async function listView(ctx, isCurrent) {
  const filters = filtersOf(location.hash);
  const list = el('ul', { class: 'petitions' });
  const more = el('button', { type: 'button', id: 'more', class: 'secondary' }, t('more'));
  const empty = el('p', { id: 'none', hidden: true }, t('none'));
  const request = {
    pageSize: LIST_PAGE,
    statuses: filters.status ? [filters.status] : PUBLIC_STATUSES,
    category: filters.category,
    query: filters.q,
  };
  const load = async (pageToken) => {
    const page = await ctx.node.listPetitions({ ...request, pageToken }, CALL);
    if (!isCurrent()) return;
    for (const p of page.petitions.filter((x) => x.textPublic)) {
      list.append(el('li', {},
        el('h2', {}, el('a', { href: `#/petition/${p.petitionId}` }, p.title || '—')),
        el('p', { class: 'meta' }, `${t('status')[p.status] ?? '—'} · ${categoryName(p.category)} · ${t('signatures')(p.signatureCount, p.signatureThreshold)}`),
        progress(p)));
    }
    applyWidths(list);
    empty.hidden = list.childElementCount > 0 || Boolean(page.nextPageToken);
    return page.nextPageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  // Anyone may start filing (signing in on the way); staff signed in as staff may not file.
  const actions = !ctx.who.signed_in || ctx.who.resident
    ? [el('p', {}, el('a', { class: 'button', href: '#/new', id: 'new-petition' }, t('newPetition')))]
    : [];
  show(el('h1', {}, t('title')), ...actions, filterForm(filters), list, empty, more);
}

/** The petition's statute and deadlines, as a definition list. */
function statute(p) {
  const rows = [
    [t('threshold'), String(p.signatureThreshold)],
    [t('collectionPeriod'), t('days')(p.collectionPeriodDays)],
    [t('filedAt'), formatDate(p.filedAt)],
    [t('publishedAt'), formatDate(p.publishedAt)],
    [t('collectionCloses'), formatDate(p.collectionClosesAt)],
    [t('answerDue'), formatCivil(p.answerDue)],
    [t('answeredAt'), formatDate(p.answeredAt)],
  ].filter(([, v]) => v);
  return el('dl', { class: 'statute' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function answerSection(p) {
  if (!p.answeredAt) return [];
  const onTime = p.answeredOnTime === undefined ? null
    : el('p', { id: 'on-time', class: p.answeredOnTime ? 'notice' : 'error' }, p.answeredOnTime ? t('onTime') : t('late'));
  return [
    el('h2', {}, t('answer')),
    el('p', { class: 'meta' }, `${t('decision')[p.answer] ?? '—'} · ${formatDate(p.answeredAt)}`),
    onTime,
    el('p', { id: 'answer-text' }, p.answerResponse),
  ];
}

/** The frozen type code of `petition.signed` (services/domain). */
const PETITION_SIGNED = 104;

export async function petitionView(ctx, id, isCurrent, signed) {
  let p;
  try {
    p = await ctx.node.getPetition({ petitionId: id }, CALL);
  } catch (e) {
    if (!isCurrent()) return;
    show(el('p', { class: 'error' }, t('notFound')), el('p', {}, el('a', { href: '#/' }, t('back'))));
    return;
  }
  if (!isCurrent()) return;
  const outcome = el('div', { 'aria-live': 'polite', id: 'outcome' });
  const parts = [
    el('p', {}, el('a', { href: '#/' }, t('back'))),
    el('h1', {}, p.title || '—'),
    el('p', { class: 'meta' }, `${categoryName(p.category)} · ${t('status')[p.status] ?? '—'}`),
    el('p', { class: 'meta', id: 'count' }, t('signatures')(p.signatureCount, p.signatureThreshold)),
    progress(p),
    el('p', { class: 'petition-text' }, p.text),
    statute(p),
    ...answerSection(p),
  ];
  if (signed) {
    outcome.append(el('p', { class: 'notice', id: 'signed' }, t('signed')(String(signed.seq))));
    parts.push(outcome, await receiptPanel(ctx, signed.seq, signed.claim, isCurrent));
    show(...parts);
    return;
  }
  if (p.signedByCaller) {
    parts.push(el('p', { class: 'notice', id: 'already' }, t('alreadySigned')));
  } else if (p.status === 3) {
    if (ctx.who.signed_in && ctx.who.resident) {
      const button = el('button', { type: 'button', id: 'sign' }, t('sign'));
      button.addEventListener('click', async () => {
        button.disabled = true;
        button.textContent = t('signing');
        try {
          const requestId = uuidv7();
          const result = await ctx.node.signPetition({ requestId, petitionId: id, signerSubject: '' }, CALL);
          // Shown again with the count as the node now has it, what was recorded and its
          // receipt, which must prove this very signature: the event the node names must be a
          // petition's signature, of this petition, with this request's id.
          await petitionView(ctx, id, isCurrent, { seq: result.firstSeq, claim: { eventType: PETITION_SIGNED, streamId: id, eventId: requestId } });
          main.focus();
        } catch (e) {
          outcome.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
          button.disabled = false;
          button.textContent = t('sign');
        }
      });
      parts.push(button);
    } else if (!ctx.who.signed_in) {
      parts.push(signInLink(`#/petition/${id}`, t('signIn')));
    }
  }
  parts.push(outcome);
  show(...parts);
}

/** Filing a petition: title, text and category; it goes to moderation. */
export function newPetitionView(ctx) {
  if (!(ctx.who.signed_in && ctx.who.resident)) {
    show(el('h1', {}, t('newPetition')), el('p', {}, signInLink('#/new', t('signInToFile'))));
    return;
  }
  const outcome = el('div', { 'aria-live': 'polite', id: 'outcome' });
  const submit = el('button', { type: 'submit', id: 'file' }, t('file'));
  const form = el('form', { id: 'new-form' },
    el('p', { class: 'field' }, el('label', { for: 'title' }, t('titleLabel')),
      el('input', { id: 'title', name: 'title', required: true, maxlength: String(TITLE_LEN_MAX), autocomplete: 'off' })),
    el('p', { class: 'field' }, el('label', { for: 'text' }, t('textLabel')),
      el('textarea', { id: 'text', name: 'text', required: true, rows: '8', maxlength: String(TEXT_LEN_MAX) })),
    el('p', { class: 'field' }, el('label', { for: 'new-category' }, t('category')),
      el('select', { id: 'new-category', name: 'category' }, CATEGORIES.map((c) => el('option', { value: c }, categoryName(c))))),
    el('p', { class: 'meta' }, t('fileNote')),
    submit);
  const requestId = uuidv7();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    try {
      // One request id for this form: pressing again after a lost reply files nothing twice.
      const result = await ctx.node.filePetition({
        requestId,
        authorSubject: '',
        title: String(data.get('title')).trim(),
        text: String(data.get('text')).trim(),
        category: String(data.get('category')),
      }, CALL);
      show(el('h1', {}, t('newPetition')),
        el('p', { class: 'notice', id: 'filed' }, t('filed')(String(result.firstSeq))),
        el('p', {}, el('a', { href: '#/' }, t('back'))));
      main.focus();
    } catch (e) {
      outcome.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
      submit.disabled = false;
    }
  });
  show(el('p', {}, el('a', { href: '#/' }, t('back'))), el('h1', {}, t('newPetition')), form, outcome);
}
