// Participatory budgets (громадський бюджет): the hromada's rounds, one round with its rules,
// periods and projects (each project's text public once found eligible, its votes, whether it
// won, its funding and latest report), proposing a project while submissions are open, and
// voting while voting is open, with a receipt of the ballot checked in the browser. Who may
// propose and vote is decided by the node on what the identity provider attested at sign-in.

import { CALL, reason } from './api.js';
import { el, formatDate, main, pageOn, show, signInLink, uuidv7 } from './dom.js';
import { t } from './i18n.js';
import { receiptPanel } from './receipts.js';

const LIST_PAGE = 20;
/** The domain's bounds on a project's title and description (services/domain/src/budget.rs). */
const TITLE_LEN_MAX = 300;
const DESCRIPTION_LEN_MAX = 10_000;
/** The frozen type code of `budget.ballot_cast` (services/domain). */
const BALLOT_CAST = 404;
const ROUND_OPEN = 1;
const REVIEW_ELIGIBLE = 2;
const REVIEW_INELIGIBLE = 3;

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

function projectItem(round, p) {
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
    p.review === REVIEW_INELIGIBLE ? el('p', { class: 'meta' }, t('ineligible')(p.ineligibleReason)) : null);
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

export async function roundView(ctx, id, isCurrent, voted, proposedSeq) {
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
  const parts = [
    el('p', {}, el('a', { href: '#/budgets' }, t('backBudgets'))),
    el('h1', {}, round.title || '—'),
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
  parts.push(el('h2', {}, t('projects')),
    round.projects.length
      ? el('ul', { class: 'petitions', id: 'projects' }, round.projects.map((p) => projectItem(round, p)))
      : el('p', {}, t('noProjects')));
  show(...parts);
}
