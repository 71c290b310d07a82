// The council staff's console, by the roles of who is signed in: moderators see the petitions
// awaiting moderation with each one's deadline (2 working days) and publish or reject them;
// officials see the petitions that reached their threshold and those under consideration, with
// the answer deadline (the statute's working days) and what is late, start consideration and
// answer. Every action first shows what the log will record and waits for a confirmation.

import { CALL } from './api.js';
import { el, formatCivil, formatDate, isPast, main, runConfirmed, show, signInLink, uuidv7 } from './dom.js';
import { categoryName, t } from './i18n.js';

/** Petitions asked for per list call of a queue. */
const QUEUE_PAGE = 100;
const AWAITING_MODERATION = 1;
const THRESHOLD_REACHED = 4;
const UNDER_CONSIDERATION = 6;
/** The domain's bounds (services/domain/src/petition.rs). */
const REASON_LEN_MAX = 2_000;
const RESPONSE_LEN_MAX = 20_000;
const RESPONDER_LEN_MAX = 200;

/** Filtered list calls one queue makes at most (each looks at up to 1,000 petitions). */
const QUEUE_CALLS_MAX = 20;

/**
 * The petitions in `statuses`, following the list's pages, oldest (nearest deadline) first, and
 * whether that is all of them (false past QUEUE_CALLS_MAX calls, about 20,000 petitions read).
 */
async function queue(ctx, statuses) {
  const found = [];
  let pageToken = '';
  for (let call = 0; call < QUEUE_CALLS_MAX; call += 1) {
    const page = await ctx.node.listPetitions({ pageSize: QUEUE_PAGE, statuses, pageToken }, CALL);
    found.push(...page.petitions);
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return { items: found.reverse(), whole: !pageToken };
}

function due(label, date) {
  if (!date) return null;
  const late = isPast(date);
  return el('p', { class: late ? 'due late' : 'due' },
    `${label}: ${formatCivil(date)}`, late ? el('strong', {}, ` · ${t('overdue')}`) : '');
}

function moderationItem(ctx, p, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const reasonId = `reason-${p.petitionId}`;
  const rejectReason = el('textarea', { id: reasonId, rows: '3', maxlength: String(REASON_LEN_MAX) });
  const publish = el('button', { type: 'button', 'data-action': 'publish' }, t('publish'));
  const reject = el('button', { type: 'button', class: 'secondary', 'data-action': 'reject' }, t('reject'));
  const title = p.title || '—';
  const ids = { publish: uuidv7(), reject: uuidv7() };
  publish.addEventListener('click', () => runConfirmed({
    box, button: publish, what: t('publishWhat')(title), reload,
    lines: [t('recordsPublished'), t('recordsActor')(t('roles').moderator)],
    call: () => ctx.node.publishPetition({ requestId: ids.publish, petitionId: p.petitionId }, CALL),
  }));
  reject.addEventListener('click', () => {
    const why = rejectReason.value.trim();
    if (!why) {
      box.replaceChildren(el('p', { class: 'error' }, t('reasonNeeded')));
      rejectReason.focus();
      return;
    }
    runConfirmed({
      box, button: reject, what: t('rejectWhat')(title), reload,
      lines: [t('recordsRejected'), t('recordsReason')(why), t('recordsActor')(t('roles').moderator)],
      call: () => ctx.node.rejectPetition({ requestId: ids.reject, petitionId: p.petitionId, reason: why }, CALL),
    });
  });
  return el('li', { 'data-petition': p.petitionId },
    el('h3', {}, title),
    el('p', { class: 'meta' }, `${categoryName(p.category)} · ${t('filedAt')}: ${formatDate(p.filedAt)}`),
    due(t('moderationDue'), p.moderationDue),
    el('p', { class: 'petition-text' }, p.text),
    el('p', { class: 'field' }, el('label', { for: reasonId }, t('rejectReason')), rejectReason),
    el('div', { class: 'actions' }, publish, reject),
    box);
}

function considerationItem(ctx, p, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const title = p.title || '—';
  const head = [
    el('h3', {}, el('a', { href: `#/petition/${p.petitionId}` }, title)),
    el('p', { class: 'meta' }, `${t('status')[p.status]} · ${t('signatures')(p.signatureCount, p.signatureThreshold)}`),
    due(t('answerDue'), p.answerDue),
  ];
  if (p.status === THRESHOLD_REACHED) {
    const start = el('button', { type: 'button', 'data-action': 'consider' }, t('startConsideration'));
    const requestId = uuidv7();
    start.addEventListener('click', () => runConfirmed({
      box, button: start, what: t('considerWhat')(title), reload,
      lines: [t('recordsConsideration'), t('recordsActor')(t('roles').official)],
      call: () => ctx.node.startConsideration({ requestId, petitionId: p.petitionId }, CALL),
    }));
    return el('li', { 'data-petition': p.petitionId }, ...head, el('div', { class: 'actions' }, start), box);
  }
  const id = (name) => `${name}-${p.petitionId}`;
  const decision = el('select', { id: id('decision') },
    [1, 2, 3].map((d) => el('option', { value: String(d) }, t('decision')[d])));
  const response = el('textarea', { id: id('response'), rows: '6', maxlength: String(RESPONSE_LEN_MAX) });
  const responder = el('input', { id: id('responder'), maxlength: String(RESPONDER_LEN_MAX), value: t('defaultResponder') });
  const answer = el('button', { type: 'button', 'data-action': 'answer' }, t('answerButton'));
  const requestId = uuidv7();
  answer.addEventListener('click', () => {
    const text = response.value.trim();
    const who = responder.value.trim();
    if (!text || !who) {
      box.replaceChildren(el('p', { class: 'error' }, t('answerNeeded')));
      (text ? responder : response).focus();
      return;
    }
    const chosen = Number(decision.value);
    const lateNote = isPast(p.answerDue) ? [t('recordsLate')] : [t('recordsOnTime')];
    runConfirmed({
      box, button: answer, what: t('answerWhat')(title), reload,
      lines: [t('recordsAnswer')(t('decision')[chosen]), t('recordsResponder')(who), t('recordsText')(text), ...lateNote, t('recordsActor')(t('roles').official)],
      call: () => ctx.node.answerPetition({ requestId, petitionId: p.petitionId, decision: chosen, response: text, responderRole: who }, CALL),
    });
  });
  return el('li', { 'data-petition': p.petitionId }, ...head,
    el('p', { class: 'field' }, el('label', { for: id('decision') }, t('decisionLabel')), decision),
    el('p', { class: 'field' }, el('label', { for: id('response') }, t('responseLabel')), response),
    el('p', { class: 'field' }, el('label', { for: id('responder') }, t('responderLabel')), responder),
    el('div', { class: 'actions' }, answer),
    box);
}

function section(id, title, items, emptyText) {
  return el('section', { 'aria-labelledby': id },
    el('h2', { id }, title, ` (${items.length})`),
    items.length ? el('ul', { class: 'queue' }, items) : el('p', {}, emptyText));
}

export async function staffView(ctx, isCurrent, notice) {
  const roles = ctx.who.roles ?? [];
  if (!ctx.who.signed_in || !roles.length) {
    show(el('h1', {}, t('staffTitle')), el('p', {}, t('staffOnly')),
      ctx.who.signed_in ? '' : signInLink('#/staff', t('staffSignIn')));
    return;
  }
  const reload = async (message) => {
    await staffView(ctx, isCurrent, message);
    main.focus();
  };
  const parts = [el('h1', {}, t('staffTitle')), el('p', { class: 'meta' }, t('staffRoles')(roles.map((r) => t('roles')[r] ?? r).join(', ')))];
  if (notice) parts.push(notice);
  if (roles.includes('moderator')) {
    const waiting = await queue(ctx, [AWAITING_MODERATION]);
    if (!waiting.whole) parts.push(el('p', { class: 'error' }, t('queueTooLong')));
    parts.push(section('moderation', t('moderationQueue'), waiting.items.map((p) => moderationItem(ctx, p, reload)), t('queueEmpty')));
  }
  if (roles.includes('official')) {
    const waiting = await queue(ctx, [THRESHOLD_REACHED, UNDER_CONSIDERATION]);
    const late = waiting.items.filter((p) => isPast(p.answerDue)).length;
    if (!waiting.whole) parts.push(el('p', { class: 'error' }, t('queueTooLong')));
    parts.push(el('p', { class: late ? 'error' : 'meta', id: 'late-count' }, t('lateCount')(late)));
    parts.push(section('consideration', t('considerationQueue'), waiting.items.map((p) => considerationItem(ctx, p, reload)), t('queueEmpty')));
  }
  // Dialogues and the action plan are run on their own pages.
  const elsewhere = [];
  if (roles.includes('official')) elsewhere.push(el('li', {}, el('a', { href: '#/dialogues' }, t('runDialogues'))));
  if (roles.includes('coordinator')) elsewhere.push(el('li', {}, el('a', { href: '#/plans' }, t('runPlan'))));
  if (elsewhere.length) parts.push(el('ul', { class: 'elsewhere' }, elsewhere));
  if (!isCurrent()) return;
  show(...parts);
}
