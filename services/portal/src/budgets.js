// Participatory budgets (громадський бюджет): the hromada's rounds, one round with its rules,
// periods and projects (each project's text public once found eligible, its votes, whether it
// won, its funding and latest report), proposing a project while submissions are open, and
// voting while voting is open, with a receipt of the ballot checked in the browser. Who may
// propose and vote is decided by the node on what the identity provider attested at sign-in.
// Officials review projects on the round's page (admitted at an approved cost, or not, with the
// reason); the coordinator declares the results, funds the winners and closes the round. Every
// staff action first shows what the log will record and waits for a confirmation.

import { CALL, reason } from './api.js';
import { el, formatDate, main, pageOn, runConfirmed, show, signInLink, staffForm, uuidv7 } from './dom.js';
import { t } from './i18n.js';
import { receiptPanel } from './receipts.js';

const LIST_PAGE = 20;
/** The domain's bounds on a project's title and description (services/domain/src/budget.rs). */
const TITLE_LEN_MAX = 300;
const DESCRIPTION_LEN_MAX = 10_000;
/** The frozen type code of `budget.ballot_cast` (services/domain). */
const BALLOT_CAST = 404;
const ROUND_OPEN = 1;
const REVIEW_PENDING = 1;
const REVIEW_ELIGIBLE = 2;
const REVIEW_INELIGIBLE = 3;
/** The domain's bound on an ineligibility reason (services/domain/src/budget.rs). */
const REASON_LEN_MAX = 2_000;

const hasRole = (who, role) => (who.roles ?? []).includes(role);

/** An official's review of a pending project: admitted at an approved cost, or not. */
function reviewForm(ctx, round, p, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const id = (name) => `${name}-${p.projectId}`;
  const cost = el('input', { id: id('approved'), type: 'number', min: '1', step: '1', inputmode: 'numeric', value: String(Math.round(Number(p.cost) / 100)) });
  const reason = el('textarea', { id: id('ineligible'), rows: '2', maxlength: String(REASON_LEN_MAX) });
  const admit = el('button', { type: 'button', 'data-action': 'admit' }, t('admit'));
  const refuse = el('button', { type: 'button', class: 'secondary', 'data-action': 'refuse' }, t('refuse'));
  const ids = { admit: uuidv7(), refuse: uuidv7() };
  admit.addEventListener('click', () => {
    const approved = Math.round(Number(cost.value));
    runConfirmed({
      box, button: admit, what: t('admitWhat')(p.title), reload,
      lines: [t('recordsAdmitted')(hryvnias(BigInt(approved) * 100n)), t('recordsActor')(t('roles').official)],
      call: () => ctx.node.reviewProject({ requestId: ids.admit, roundId: round.roundId, projectId: p.projectId, eligible: true, approvedCost: BigInt(approved) * 100n, reason: '' }, CALL),
    });
  });
  refuse.addEventListener('click', () => runConfirmed({
    box, button: refuse, what: t('refuseWhat')(p.title), reload,
    lines: [t('recordsRefused')(reason.value.trim() || '—'), t('recordsActor')(t('roles').official)],
    call: () => ctx.node.reviewProject({ requestId: ids.refuse, roundId: round.roundId, projectId: p.projectId, eligible: false, approvedCost: 0n, reason: reason.value.trim() }, CALL),
  }));
  return [
    el('p', { class: 'field' }, el('label', { for: id('approved') }, t('approvedCost')), cost),
    el('p', { class: 'field' }, el('label', { for: id('ineligible') }, t('ineligibleReason')), reason),
    el('div', { class: 'actions' }, admit, refuse), box,
  ];
}

/** The coordinator's steps after voting: results, funding each winner, closing. */
function coordinatorActions(ctx, round, now, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const action = (key, what, lines, call) => {
    const button = el('button', { type: 'button', 'data-action': key }, t(key));
    const requestId = uuidv7();
    button.addEventListener('click', () => runConfirmed({
      box, button, what, reload, lines: [...lines, t('recordsActor')(t('roles').coordinator)], call: () => call(requestId),
    }));
    return button;
  };
  const buttons = [];
  if (now === 'counting') {
    buttons.push(action('declareResults', t('declareWhat')(round.title), [t('recordsResults')],
      (requestId) => ctx.node.declareResults({ requestId, roundId: round.roundId }, CALL)));
  }
  if (now === 'results') {
    for (const p of round.projects.filter((x) => x.winner && x.funded === undefined)) {
      buttons.push(action('fund', t('fundWhat')(p.title), [t('recordsFunded')(hryvnias(p.cost))],
        (requestId) => ctx.node.fundProject({ requestId, roundId: round.roundId, projectId: p.projectId, amount: p.cost }, CALL)));
    }
    buttons.push(action('closeRound', t('closeRoundWhat')(round.title), [t('recordsRoundClosed')],
      (requestId) => ctx.node.closeRound({ requestId, roundId: round.roundId }, CALL)));
  }
  return buttons.length ? [el('h2', {}, t('coordinatorSteps')), el('div', { class: 'actions' }, buttons), box] : [];
}

/** Kopecks (a uint64, so a BigInt) as hryvnias in the page's language. */
function hryvnias(kopecks) {
  return t('uah')(Math.round(Number(kopecks ?? 0n) / 100));
}

const millis = (ts) => (ts ? Number(ts.seconds) * 1000 : 0);

/** Where a round stands now: submissions, review, voting, counting, results or closed. */
function phase(round, now = Date.now()) {
  const r = round.rules ?? {};
  if (round.status === 3) return 'closed';
  if (round.status === 2) return 'results';
  if (now < millis(r.submissionOpens)) return 'announced';
  if (now < millis(r.submissionCloses)) return 'submission';
  if (now < millis(r.votingOpens)) return 'review';
  if (now < millis(r.votingCloses)) return 'voting';
  return 'counting';
}

export async function budgetsView(ctx, isCurrent) {
  const list = el('ul', { class: 'petitions' });
  const more = el('button', { type: 'button', class: 'secondary', id: 'more-rounds' }, t('more'));
  const load = async (pageToken) => {
    const page = await ctx.node.listRounds({ pageSize: LIST_PAGE, pageToken }, CALL);
    list.append(...page.rounds.map((r) => el('li', {},
      el('h2', {}, el('a', { href: `#/budget/${r.roundId}` }, r.title || '—')),
      el('p', { class: 'meta' }, `${t('roundPhase')[phase(r)]} · ${hryvnias(r.rules?.amount)} · ${t('roundYear')(r.rules?.budgetYear ?? '')}`),
      el('p', { class: 'meta' }, t('roundCounts')(r.projects.length, r.ballots)))));
    return page.nextPageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  show(el('h1', {}, t('nav').budgets), el('p', {}, t('budgetsIntro')),
    list.childElementCount ? list : el('p', {}, t('noRounds')), more);
}

function rules(round) {
  const r = round.rules ?? {};
  const rows = [
    [t('roundAmount'), hryvnias(r.amount)],
    [t('roundShare'), `${((Number(r.amount ?? 0n) / Math.max(1, Number(r.localBudget ?? 1n))) * 100).toFixed(2)} %`],
    [t('roundCosts'), `${hryvnias(r.projectCostMin)} – ${hryvnias(r.projectCostMax)}`],
    [t('roundSubmission'), `${formatDate(r.submissionOpens)} – ${formatDate(r.submissionCloses)}`],
    [t('roundVoting'), `${formatDate(r.votingOpens)} – ${formatDate(r.votingCloses)}`],
    [t('roundWho'), t('roundElectorate')(r.electorate === 1, r.voterAgeMin)],
    [t('roundVotes'), String(r.votesPerBallot)],
    [t('roundDecision'), round.councilDecision],
  ];
  return el('dl', { class: 'statute' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function projectItem(ctx, round, p, reload) {
  const categories = round.rules?.categories ?? [];
  const facts = [categories[p.category] ?? '—', hryvnias(p.cost)];
  if (p.review === REVIEW_ELIGIBLE) facts.push(t('votes')(p.votes));
  if (p.winner) facts.push(t('winner'));
  if (p.funded !== undefined) facts.push(t('funded')(hryvnias(p.funded)));
  if (p.status) facts.push(t('projectStatus')[p.status]);
  return el('li', { id: `project-${p.projectId}` },
    el('h3', {}, p.title || (p.review === REVIEW_INELIGIBLE ? t('projectNotPublic') : t('projectAwaitsReview'))),
    el('p', { class: 'meta' }, facts.join(' · ')),
    p.description ? el('p', { class: 'petition-text' }, p.description) : null,
    p.title && !p.textPublic ? el('p', { class: 'meta' }, t('notYetPublic')) : null,
    p.review === REVIEW_INELIGIBLE ? el('p', { class: 'meta' }, t('ineligible')(p.ineligibleReason)) : null,
    p.review === REVIEW_PENDING && hasRole(ctx.who, 'official') && ['submission', 'review'].includes(phase(round))
      ? reviewForm(ctx, round, p, reload) : null,
    p.funded !== undefined && ![3, 4].includes(p.status) && hasRole(ctx.who, 'coordinator') && phase(round) === 'results'
      ? progressReportForm(ctx, round, p, reload) : null);
}

/** The coordinator reports how a funded project is being carried out (evidence to complete it). */
function progressReportForm(ctx, round, p, reload) {
  const id = (name) => `${name}-${p.projectId}`;
  const status = el('select', { id: id('project-status') }, [1, 2, 3, 4].map((s) => el('option', { value: String(s), selected: s === (p.status || 1) }, t('projectStatus')[s])));
  const link = el('input', { id: id('project-evidence'), type: 'url', maxlength: '2000' });
  const note = el('input', { id: id('project-note'), maxlength: '2000', autocomplete: 'off' });
  const requestId = uuidv7();
  return staffForm({
    legend: t('reportProject'), action: 'report-project', label: t('reportProject'), reload,
    fields: [[id('project-status'), t('projectStatusLabel'), status], [id('project-evidence'), t('evidenceLabel'), link],
      [id('project-note'), t('projectNoteLabel'), note]],
    confirm: () => {
      const chosen = Number(status.value);
      return {
        what: t('reportProjectWhat')(p.title),
        lines: [t('recordsProjectStatus')(t('projectStatus')[chosen]), t('recordsEvidence')(link.value.trim() || '—'), t('recordsActor')(t('roles').coordinator)],
        call: () => ctx.node.reportProjectProgress({
          requestId, roundId: round.roundId, projectId: p.projectId, status: chosen,
          evidenceLink: link.value.trim(), note: note.value.trim(),
        }, CALL),
      };
    },
  });
}

/** The ballot: up to the round's number of eligible projects, by checkbox. */
function ballotForm(ctx, round, isCurrent) {
  const eligible = round.projects.filter((p) => p.review === REVIEW_ELIGIBLE);
  const most = round.rules?.votesPerBallot ?? 1;
  const outcome = el('div', { 'aria-live': 'polite', id: 'ballot-outcome' });
  const submit = el('button', { type: 'submit', id: 'vote' }, t('vote'));
  const boxes = eligible.map((p) => el('p', { class: 'choice' },
    el('input', { type: 'checkbox', id: `choose-${p.projectId}`, name: 'project', value: p.projectId }),
    ' ', el('label', { for: `choose-${p.projectId}` }, `${p.title} (${hryvnias(p.cost)})`)));
  const form = el('form', { id: 'ballot' },
    el('fieldset', {}, el('legend', {}, t('ballotLegend')(most)), boxes),
    el('p', { class: 'meta' }, t('ballotNote')),
    submit);
  // One request id for this ballot: pressing again after a lost reply votes nothing twice.
  const requestId = uuidv7();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = new FormData(form).getAll('project').map(String);
    if (chosen.length === 0 || chosen.length > most) {
      outcome.replaceChildren(el('p', { class: 'error', role: 'alert' }, t('chooseUpTo')(most)));
      return;
    }
    submit.disabled = true;
    try {
      const result = await ctx.node.castBallot({
        requestId, roundId: round.roundId, voterSubject: '', voterBirthdate: '', voterResidence: '', projectIds: chosen,
      }, CALL);
      // Shown again with the tallies as the node now has them, and the ballot's receipt,
      // which must prove this very ballot: a ballot of this round under this request's id.
      await roundView(ctx, round.roundId, isCurrent, { seq: result.firstSeq, claim: { eventType: BALLOT_CAST, streamId: round.roundId, eventId: requestId } });
      main.focus();
    } catch (e) {
      outcome.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
      submit.disabled = false;
    }
  });
  return [form, outcome];
}

/** Proposing a project while submissions are open: its text stays private until reviewed. */
function proposalForm(ctx, round, isCurrent) {
  const r = round.rules ?? {};
  const outcome = el('div', { 'aria-live': 'polite', id: 'proposal-outcome' });
  const submit = el('button', { type: 'submit', id: 'propose' }, t('propose'));
  const form = el('form', { id: 'proposal' },
    el('h2', {}, t('proposeTitle')),
    el('p', { class: 'field' }, el('label', { for: 'project-title' }, t('projectTitle')),
      el('input', { id: 'project-title', name: 'title', required: true, maxlength: String(TITLE_LEN_MAX), autocomplete: 'off' })),
    el('p', { class: 'field' }, el('label', { for: 'project-description' }, t('projectDescription')),
      el('textarea', { id: 'project-description', name: 'description', required: true, rows: '6', maxlength: String(DESCRIPTION_LEN_MAX) })),
    el('p', { class: 'field' }, el('label', { for: 'project-category' }, t('category')),
      el('select', { id: 'project-category', name: 'category' }, (r.categories ?? []).map((c, i) => el('option', { value: String(i) }, c)))),
    el('p', { class: 'field' }, el('label', { for: 'project-cost' }, t('projectCost')(hryvnias(r.projectCostMin), hryvnias(r.projectCostMax))),
      el('input', { id: 'project-cost', name: 'cost', type: 'number', required: true, min: '1', step: '1', inputmode: 'numeric' })),
    el('p', { class: 'meta' }, t('proposeNote')),
    submit);
  const requestId = uuidv7();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    try {
      const result = await ctx.node.submitProject({
        requestId,
        roundId: round.roundId,
        authorSubject: '',
        authorBirthdate: '',
        authorResidence: '',
        title: String(data.get('title')).trim(),
        description: String(data.get('description')).trim(),
        category: Number(data.get('category')),
        cost: BigInt(Math.round(Number(data.get('cost')))) * 100n,
      }, CALL);
      // Shown again with the project listed (its text the reviewers' until it is admitted).
      await roundView(ctx, round.roundId, isCurrent, null, result.firstSeq);
      main.focus();
    } catch (e) {
      outcome.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
      submit.disabled = false;
    }
  });
  return [form, outcome];
}

export async function roundView(ctx, id, isCurrent, voted, proposedSeq, notice) {
  let round;
  try {
    round = await ctx.node.getRound({ roundId: id }, CALL);
  } catch {
    if (!isCurrent()) return;
    show(el('p', { class: 'error' }, t('roundNotFound')), el('p', {}, el('a', { href: '#/budgets' }, t('backBudgets'))));
    return;
  }
  if (!isCurrent()) return;
  const now = phase(round);
  const reload = (message) => roundView(ctx, id, isCurrent, null, null, message);
  const parts = [
    el('p', {}, el('a', { href: '#/budgets' }, t('backBudgets'))),
    el('h1', {}, round.title || '—'),
    notice ?? '',
    el('p', { class: 'meta', id: 'round-phase' }, `${t('roundPhase')[now]} · ${t('roundCounts')(round.projects.length, round.ballots)}`),
    rules(round),
  ];
  if (voted) {
    parts.push(el('p', { class: 'notice', id: 'voted' }, t('voted')(String(voted.seq))),
      await receiptPanel(ctx, voted.seq, voted.claim, isCurrent));
  } else if (round.votedByCaller) {
    parts.push(el('p', { class: 'notice', id: 'already-voted' }, t('alreadyVoted')));
  } else if (now === 'voting' && round.status === ROUND_OPEN) {
    if (ctx.who.signed_in && ctx.who.resident) parts.push(...ballotForm(ctx, round, isCurrent));
    else if (!ctx.who.signed_in) parts.push(signInLink(`#/budget/${id}`, t('signInToVote')));
  }
  if (proposedSeq) {
    parts.push(el('p', { class: 'notice', id: 'proposed' }, t('proposed')(String(proposedSeq))));
  } else if (now === 'submission' && !voted) {
    if (ctx.who.signed_in && ctx.who.resident) parts.push(...proposalForm(ctx, round, isCurrent));
    else if (!ctx.who.signed_in) parts.push(signInLink(`#/budget/${id}`, t('signInToPropose')));
  }
  if (hasRole(ctx.who, 'coordinator')) parts.push(...coordinatorActions(ctx, round, now, reload));
  parts.push(el('h2', {}, t('projects')),
    round.projects.length
      ? el('ul', { class: 'petitions', id: 'projects' }, round.projects.map((p) => projectItem(ctx, round, p, reload)))
      : el('p', {}, t('noProjects')));
  show(...parts);
}
