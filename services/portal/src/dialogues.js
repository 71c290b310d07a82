// Public dialogues: residents read the announcement, contribute while it is open, read each
// contribution's response with its reason and the outcome report; officials announce, answer
// contributions, close and publish the outcome, each action confirmed.

import { CALL, reason } from './api.js';
import { el, formatDate, main, pageOn, runConfirmed, show, signInLink, uuidv7 } from './dom.js';
import { t } from './i18n.js';

const LIST_PAGE = 50;
const CONTRIBUTIONS_PAGE = 50;
/** List calls one "more" makes at most. */
const CONTRIBUTION_CALLS_MAX = 10;
const ANNOUNCED = 1;
const CLOSED = 2;
/** The domain's bounds (services/domain/src/dialogue.rs). */
const TOPIC_LEN_MAX = 300;
const TEXT_LEN_MAX = 10_000;
const REASON_LEN_MAX = 2_000;
const REPORT_LEN_MAX = 20_000;

const isOfficial = (who) => (who.roles ?? []).includes('official');

/** A `datetime-local` value (a wall-clock time in the browser's own time zone) as a Timestamp. */
function timestampOf(value) {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return null;
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 };
}

function announceForm(ctx, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const field = (id, label, input) => el('p', { class: 'field' }, el('label', { for: id }, label), input);
  const kind = el('select', { id: 'd-kind' }, [1, 2, 3, 4, 5, 6].map((k) => el('option', { value: String(k) }, t('dialogueKind')[k])));
  const topic = el('input', { id: 'd-topic', maxlength: String(TOPIC_LEN_MAX), required: true });
  const organiser = el('input', { id: 'd-organiser', maxlength: '300', required: true });
  const opens = el('input', { id: 'd-opens', type: 'datetime-local', required: true });
  const closes = el('input', { id: 'd-closes', type: 'datetime-local', required: true });
  const submit = el('button', { type: 'submit' }, t('announce'));
  const form = el('form', { id: 'announce-form', class: 'staff-form' },
    el('h2', {}, t('announceDialogue')),
    field('d-kind', t('kindLabel'), kind), field('d-topic', t('topicLabel'), topic),
    field('d-organiser', t('organiserLabel'), organiser),
    field('d-opens', t('opensLabel'), opens), field('d-closes', t('closesLabel'), closes),
    submit, box);
  const requestId = uuidv7();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const [from, to] = [timestampOf(opens.value), timestampOf(closes.value)];
    if (!from || !to) {
      box.replaceChildren(el('p', { class: 'error' }, t('datesNeeded')));
      return;
    }
    runConfirmed({
      box, button: submit, what: t('announceWhat')(topic.value.trim()), reload,
      lines: [t('recordsAnnounced')(t('dialogueKind')[kind.value], organiser.value.trim(), opens.value, closes.value), t('recordsActor')(t('roles').official)],
      call: () => ctx.node.announceDialogue({
        requestId, kind: Number(kind.value), topic: topic.value.trim(), organiser: organiser.value.trim(), opensAt: from, closesAt: to,
      }, CALL),
    });
  });
  return form;
}

export async function dialoguesView(ctx, isCurrent, notice) {
  const list = el('ul', { class: 'petitions' });
  const more = el('button', { type: 'button', class: 'secondary', id: 'more-dialogues' }, t('more'));
  const load = async (pageToken) => {
    const page = await ctx.node.listDialogues({ pageSize: LIST_PAGE, pageToken }, CALL);
    list.append(...page.dialogues.map((d) => el('li', {},
      el('h2', {}, el('a', { href: `#/dialogue/${d.dialogueId}` }, d.topic || '—')),
      el('p', { class: 'meta' }, `${t('dialogueKind')[d.kind] ?? '—'} · ${d.organiser} · ${formatDate(d.opensAt)} – ${formatDate(d.closesAt)}`),
      el('p', { class: 'meta' }, `${t('dialogueStatus')[d.status] ?? '—'} · ${t('contributionsCount')(d.contributions, d.contributionsAnswered)}`))));
    return page.nextPageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  const reload = (message) => dialoguesView(ctx, isCurrent, message);
  show(el('h1', {}, t('nav').dialogues), notice ?? '',
    list.childElementCount ? list : el('p', {}, t('noDialogues')), more,
    isOfficial(ctx.who) ? announceForm(ctx, reload) : '');
}

function contributionItem(ctx, dialogue, c, reload) {
  const answered = c.response !== 0;
  const parts = [
    el('p', { class: 'meta' }, `${t('submittedAt')}: ${formatDate(c.submittedAt)}`),
    el('p', { class: 'petition-text' }, c.text || t('textNotPublic')),
  ];
  if (answered) {
    parts.push(el('p', { class: 'response' }, el('strong', {}, `${t('contributionResponse')[c.response]}`),
      c.answeredAt ? ` · ${formatDate(c.answeredAt)}` : ''));
    if (c.responseReason) parts.push(el('p', { class: 'petition-text' }, `${t('reasonLabel')}: ${c.responseReason}`));
  } else if (isOfficial(ctx.who)) {
    const box = el('div', { 'aria-live': 'polite' });
    const id = (name) => `${name}-${c.contributionId}`;
    const response = el('select', { id: id('response') }, [1, 2, 3].map((r) => el('option', { value: String(r) }, t('contributionResponse')[r])));
    const why = el('textarea', { id: id('reason'), rows: '3', maxlength: String(REASON_LEN_MAX) });
    const answer = el('button', { type: 'button', 'data-action': 'answer-contribution' }, t('answerButton'));
    const requestId = uuidv7();
    answer.addEventListener('click', () => {
      const text = why.value.trim();
      if (!text) {
        box.replaceChildren(el('p', { class: 'error' }, t('reasonNeeded')));
        why.focus();
        return;
      }
      const chosen = Number(response.value);
      runConfirmed({
        box, button: answer, what: t('answerContributionWhat'), reload,
        lines: [t('recordsContributionAnswer')(t('contributionResponse')[chosen]), t('recordsReason')(text),
          chosen === 3 ? t('recordsStaysPrivate') : t('recordsDisclosed'), t('recordsActor')(t('roles').official)],
        call: () => ctx.node.answerContribution({ requestId, dialogueId: dialogue.dialogueId, contributionId: c.contributionId, response: chosen, reason: text }, CALL),
      });
    });
    parts.push(el('p', { class: 'field' }, el('label', { for: id('response') }, t('decisionLabel')), response),
      el('p', { class: 'field' }, el('label', { for: id('reason') }, t('reasonLabel')), why),
      el('div', { class: 'actions' }, answer), box);
  }
  return el('li', { 'data-contribution': c.contributionId }, parts);
}

function contributeForm(ctx, d, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const text = el('textarea', { id: 'contribution', rows: '5', maxlength: String(TEXT_LEN_MAX), required: true });
  const requestId = uuidv7();
  const form = el('form', { id: 'contribute-form' },
    el('p', { class: 'field' }, el('label', { for: 'contribution' }, t('contributionLabel')), text),
    el('p', { class: 'meta' }, t('contributionNote')),
    el('button', { type: 'submit', id: 'contribute' }, t('contribute')), box);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const result = await ctx.node.submitContribution({ requestId, dialogueId: d.dialogueId, authorSubject: '', text: text.value.trim() }, CALL);
      await reload(el('p', { class: 'notice', id: 'contributed' }, t('contributed')(String(result.firstSeq))));
      main.focus();
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
    }
  });
  return form;
}

function closeForms(ctx, d, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  // The domain keeps a dialogue open for contributions until its closing time.
  if (d.status === ANNOUNCED && Date.now() < Number(d.closesAt?.seconds ?? 0) * 1000) {
    return el('p', { class: 'meta', id: 'closes-later' }, t('closeAfter')(formatDate(d.closesAt)));
  }
  if (d.status === ANNOUNCED) {
    const attendance = el('input', { id: 'attendance', type: 'number', min: '0', max: '1000000', value: '0' });
    const organisations = el('input', { id: 'organisations', maxlength: '2000' });
    const close = el('button', { type: 'button', 'data-action': 'close-dialogue' }, t('closeDialogue'));
    const requestId = uuidv7();
    close.addEventListener('click', () => {
      const orgs = organisations.value.split(',').map((o) => o.trim()).filter(Boolean);
      runConfirmed({
        box, button: close, what: t('closeWhat')(d.topic), reload,
        lines: [t('recordsClosed')(attendance.value, orgs.join(', ') || '—'), t('recordsActor')(t('roles').official)],
        call: () => ctx.node.closeDialogue({ requestId, dialogueId: d.dialogueId, attendanceCount: Number(attendance.value) || 0, participatingOrganisations: orgs }, CALL),
      });
    });
    return el('section', { 'aria-labelledby': 'close-title', class: 'staff-form' }, el('h2', { id: 'close-title' }, t('closeDialogue')),
      el('p', { class: 'field' }, el('label', { for: 'attendance' }, t('attendanceLabel')), attendance),
      el('p', { class: 'field' }, el('label', { for: 'organisations' }, t('organisationsLabel')), organisations),
      el('div', { class: 'actions' }, close), box);
  }
  if (d.status === CLOSED) {
    const report = el('textarea', { id: 'report', rows: '8', maxlength: String(REPORT_LEN_MAX) });
    const decision = el('input', { id: 'decision-ref', maxlength: '200' });
    const publish = el('button', { type: 'button', 'data-action': 'publish-outcome' }, t('publishOutcome'));
    const requestId = uuidv7();
    publish.addEventListener('click', () => {
      const text = report.value.trim();
      if (!text) {
        box.replaceChildren(el('p', { class: 'error' }, t('reportNeeded')));
        report.focus();
        return;
      }
      runConfirmed({
        box, button: publish, what: t('outcomeWhat')(d.topic), reload,
        lines: [t('recordsOutcome')(text.length > 200 ? `${text.slice(0, 200)}…` : text), t('recordsDecision')(decision.value.trim() || '—'), t('recordsActor')(t('roles').official)],
        call: () => ctx.node.publishOutcome({ requestId, dialogueId: d.dialogueId, report: text, councilDecisionRef: decision.value.trim() }, CALL),
      });
    });
    return el('section', { 'aria-labelledby': 'outcome-title', class: 'staff-form' }, el('h2', { id: 'outcome-title' }, t('publishOutcome')),
      el('p', { class: 'field' }, el('label', { for: 'report' }, t('reportLabel')), report),
      el('p', { class: 'field' }, el('label', { for: 'decision-ref' }, t('decisionRefLabel')), decision),
      el('div', { class: 'actions' }, publish), box);
  }
  return '';
}

export async function dialogueView(ctx, id, isCurrent, notice) {
  let d;
  try {
    d = await ctx.node.getDialogue({ dialogueId: id }, CALL);
  } catch {
    if (isCurrent()) show(el('p', { class: 'error' }, t('notFound')), el('p', {}, el('a', { href: '#/dialogues' }, t('backDialogues'))));
    return;
  }
  const reload = (message) => dialogueView(ctx, id, isCurrent, message);
  const list = el('ul', { class: 'queue', id: 'contributions' });
  const more = el('button', { type: 'button', class: 'secondary', id: 'more-contributions', hidden: true }, t('more'));
  // A page of the API may hold few contributions (each call reads a bounded stretch of the
  // dialogue): follow its tokens, a bounded number of times, until a page's worth is shown.
  const load = async (first) => {
    let pageToken = first;
    let shown = 0;
    for (let call = 0; call < CONTRIBUTION_CALLS_MAX; call += 1) {
      const page = await ctx.node.listContributions({ dialogueId: id, pageSize: CONTRIBUTIONS_PAGE, pageToken }, CALL);
      list.append(...page.contributions.map((c) => contributionItem(ctx, d, c, reload)));
      shown += page.contributions.length;
      pageToken = page.nextPageToken;
      if (!pageToken || shown >= CONTRIBUTIONS_PAGE) break;
    }
    return pageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  const now = Date.now();
  const open = d.status === ANNOUNCED && Number(d.opensAt?.seconds ?? 0) * 1000 <= now && now < Number(d.closesAt?.seconds ?? 0) * 1000;
  const parts = [
    el('p', {}, el('a', { href: '#/dialogues' }, t('backDialogues'))),
    el('h1', {}, d.topic || '—'),
    notice ?? '',
    el('dl', { class: 'statute' },
      el('dt', {}, t('kindLabel')), el('dd', {}, t('dialogueKind')[d.kind] ?? '—'),
      el('dt', {}, t('organiserLabel')), el('dd', {}, d.organiser),
      el('dt', {}, t('opensLabel')), el('dd', {}, formatDate(d.opensAt)),
      el('dt', {}, t('closesLabel')), el('dd', {}, formatDate(d.closesAt)),
      el('dt', {}, t('statusLabel')), el('dd', {}, t('dialogueStatus')[d.status] ?? '—')),
  ];
  if (d.outcomeReport) {
    parts.push(el('h2', {}, t('outcomeTitle')), el('p', { class: 'petition-text', id: 'outcome-report' }, d.outcomeReport));
    if (d.councilDecisionRef) parts.push(el('p', { class: 'meta' }, `${t('decisionRefLabel')}: ${d.councilDecisionRef}`));
  }
  if (open && ctx.who.signed_in && ctx.who.resident) parts.push(contributeForm(ctx, d, reload));
  else if (open && !ctx.who.signed_in) {
    parts.push(el('p', {}, signInLink(`#/dialogue/${id}`, t('signInToContribute'))));
  }
  parts.push(el('h2', {}, t('contributionsTitle')(d.contributions)), list, more);
  if (isOfficial(ctx.who)) parts.push(closeForms(ctx, d, reload));
  show(...parts);
}
