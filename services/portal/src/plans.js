// The OGP Local action plan: residents read its commitments (OGP values, lead institution,
// period, assessment, the forum's proposals each one takes, linked to them) and milestones (due
// date, progress on the IRM's scale, evidence, what is overdue, what was withdrawn); the
// coordinator reports a milestone's progress and has a commitment take a proposal the forum
// accepted, each confirmed. A plan in the making is a draft: its local forum (seats of bodies
// and organisations with their representatives' roles, never names; one co-chair per side) is
// shown to everyone, the coordinator seats members, names co-chairs and has the council's
// adoption recorded, with every proposal the plan contains; an adopted draft lists them.

import { CALL } from './api.js';
import { el, formatCivil, pageOn, runConfirmed, show, staffForm, uuidv7 } from './dom.js';
import { t } from './i18n.js';

const LIST_PAGE = 20;
/** The domain's bound on an evidence link (services/domain/src/action_plan.rs). */
const EVIDENCE_LEN_MAX = 2_000;

const isCoordinator = (who) => (who.roles ?? []).includes('coordinator');

/** An evidence link as a link only when it is http(s); anything else is shown as text. */
function evidence(link) {
  if (!link) return '';
  let url;
  try {
    url = new URL(link);
  } catch {
    return link;
  }
  return url.protocol === 'https:' || url.protocol === 'http:'
    ? el('a', { href: url.href, rel: 'noopener noreferrer nofollow' }, t('evidence'))
    : link;
}

export async function plansView(ctx, isCurrent) {
  const list = el('ul', { class: 'petitions' });
  const more = el('button', { type: 'button', class: 'secondary', id: 'more-plans' }, t('more'));
  const load = async (pageToken) => {
    const page = await ctx.node.listPlans({ pageSize: LIST_PAGE, pageToken }, CALL);
    list.append(...page.plans.map((p) => el('li', {},
      el('h2', {}, el('a', { href: `#/plan/${p.planId}` }, p.title || '—')),
      el('p', { class: 'meta' }, `${formatCivil(p.periodStart)} – ${formatCivil(p.periodEnd)} · ${planStatus(p)}`),
      el('p', { class: 'meta' }, t('planCounts')(p.commitments, p.milestones.length, p.milestones.filter((m) => m.overdue).length)))));
    return page.nextPageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  show(el('h1', {}, t('nav').plans), list.childElementCount ? list : el('p', {}, t('noPlans')), more,
    isCoordinator(ctx.who) ? draftForm(ctx) : '');
}

/** The coordinator begins the next plan as a draft, to work out with the local forum. */
function draftForm(ctx) {
  const title = el('input', { id: 'draft-title', maxlength: '300', autocomplete: 'off' });
  const start = el('input', { id: 'draft-start', type: 'date' });
  const end = el('input', { id: 'draft-end', type: 'date' });
  const requestId = uuidv7();
  return staffForm({
    legend: t('draftPlan'), action: 'draft-plan', label: t('draftPlan'),
    reload: () => { window.location.hash = `#/plan/${requestId}`; },
    fields: [['draft-title', t('planTitleLabel'), title], ['draft-start', t('periodStartLabel'), start],
      ['draft-end', t('periodEndLabel'), end]],
    confirm: () => ({
      what: t('draftWhat')(title.value.trim()),
      lines: [t('recordsDraft')(start.value, end.value), t('recordsActor')(t('roles').coordinator)],
      call: () => ctx.node.draftPlan({ requestId, title: title.value.trim(), periodStart: start.value, periodEnd: end.value }, CALL),
    }),
  });
}

/** Where a plan is: a draft, in progress, closed. */
function planStatus(plan) {
  if (plan.closed) return t('planClosed');
  return plan.draft ? t('planDraft') : t('planActive');
}

/** The side's name (1 government, 2 public). */
const sideName = (side) => t('forumSide')[side] ?? '—';

/**
 * The plan's local forum: its seats by side, co-chairs marked, those who left kept; for the
 * coordinator, a member joins, a co-chair is named.
 */
function forumSection(ctx, plan, coordinator, reload) {
  const bySide = [1, 2].map((side) => {
    const seats = plan.forum.filter((m) => m.side === side);
    return el('section', { class: 'forum-side', 'aria-labelledby': `side-${side}` },
      el('h3', { id: `side-${side}` }, sideName(side)),
      seats.length ? el('ul', { class: 'queue' }, seats.map((m) => el('li', { 'data-member': m.memberId },
        el('strong', {}, m.organisation), ` — ${m.role}`,
        m.coChair ? el('span', { class: 'badge', 'data-co-chair': String(side) }, ` · ${t('coChair')}`) : '',
        m.left ? ` · ${t('leftForum')}` : ''))) : el('p', { class: 'meta' }, t('noSeats')));
  });
  return el('section', { class: 'forum', 'aria-labelledby': 'forum-title' },
    el('h2', { id: 'forum-title' }, t('forumTitle')),
    el('p', { class: 'meta' }, t('forumNote')),
    ...bySide,
    coordinator ? [joinForm(ctx, plan, reload), coChairForm(ctx, plan, reload)] : '');
}

function joinForm(ctx, plan, reload) {
  const side = el('select', { id: 'join-side' }, [1, 2].map((s) => el('option', { value: String(s) }, sideName(s))));
  const organisation = el('input', { id: 'join-organisation', maxlength: '300', autocomplete: 'organization' });
  const role = el('input', { id: 'join-role', maxlength: '200', autocomplete: 'off' });
  const requestId = uuidv7();
  return staffForm({
    legend: t('joinForum'), action: 'join-forum', label: t('joinForum'), reload,
    fields: [['join-side', t('sideLabel'), side], ['join-organisation', t('organisationLabel'), organisation],
      ['join-role', t('roleLabel'), role]],
    confirm: () => {
      const chosen = Number(side.value);
      return {
        what: t('joinWhat')(organisation.value.trim()),
        lines: [t('recordsSeat')(sideName(chosen), role.value.trim()), t('recordsActor')(t('roles').coordinator)],
        call: () => ctx.node.joinForum({
          requestId, planId: plan.planId, side: chosen,
          organisation: organisation.value.trim(), role: role.value.trim(),
        }, CALL),
      };
    },
  });
}

function coChairForm(ctx, plan, reload) {
  const candidates = plan.forum.filter((m) => !m.left && !m.coChair);
  if (!candidates.length) return '';
  const select = el('select', { id: 'co-chair' }, candidates.map((m, i) => el('option', { value: String(i) },
    `${m.organisation} — ${m.role} (${sideName(m.side)})`)));
  const requestId = uuidv7();
  return staffForm({
    legend: t('nameCoChair'), action: 'name-co-chair', label: t('nameCoChair'), reload,
    fields: [['co-chair', t('memberLabel'), select]],
    confirm: () => {
      const chosen = candidates[Number(select.value)];
      return {
        what: t('coChairWhat')(chosen.organisation),
        lines: [t('recordsCoChair')(sideName(chosen.side)), t('recordsActor')(t('roles').coordinator)],
        call: () => ctx.node.nameCoChair({ requestId, planId: plan.planId, memberId: chosen.memberId }, CALL),
      };
    },
  });
}

/** The council's adoption of a draft, recorded with every proposal it contains. */
function adoptForm(ctx, plan, reload) {
  const decision = el('input', { id: 'adopt-decision', maxlength: '200', autocomplete: 'off' });
  const requestId = uuidv7();
  const contained = plan.commitmentDetails.filter((c) => !c.withdrawn).reduce((n, c) => n + c.sources.length, 0);
  return staffForm({
    legend: t('adoptDraft'), note: t('adoptNote'), action: 'adopt-draft', label: t('adoptDraft'), reload,
    fields: [['adopt-decision', t('councilDecisionLabel'), decision]],
    confirm: () => ({
      what: t('adoptWhat')(plan.title),
      lines: [t('recordsAdoption')(decision.value.trim()), t('recordsProposals')(contained), t('recordsActor')(t('roles').coordinator)],
      call: () => ctx.node.adoptDraft({ requestId, planId: plan.planId, councilDecision: decision.value.trim() }, CALL),
    }),
  });
}

/** The proposals an adopted draft contains, as its adoption recorded them. */
function containedProposals(plan) {
  if (!plan.proposals.length) return '';
  return el('section', { class: 'contained', 'aria-labelledby': 'contained-title' },
    el('h2', { id: 'contained-title' }, t('containedTitle')(plan.proposals.length)),
    el('ol', {}, plan.proposals.map((p, i) => el('li', {},
      el('a', { href: `#/dialogue/${p.dialogueId}`, 'data-contained': p.contributionId }, t('proposalLink')(i + 1))))));
}

function progressForm(ctx, plan, m, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const id = (name) => `${name}-${m.milestoneId}`;
  const status = el('select', { id: id('status') }, [1, 2, 3, 4, 5].map((s) => el('option', { value: String(s), selected: s === m.status }, t('implementation')[s])));
  const link = el('input', { id: id('evidence'), type: 'url', maxlength: String(EVIDENCE_LEN_MAX), value: m.evidenceLink });
  const report = el('button', { type: 'button', 'data-action': 'report-progress' }, t('reportProgress'));
  const requestId = uuidv7();
  report.addEventListener('click', () => {
    const chosen = Number(status.value);
    runConfirmed({
      box, button: report, what: t('progressWhat')(m.title), reload,
      lines: [t('recordsProgress')(t('implementation')[chosen]), t('recordsEvidence')(link.value.trim() || '—'), t('recordsActor')(t('roles').coordinator)],
      call: () => ctx.node.reportProgress({ requestId, planId: plan.planId, milestoneId: m.milestoneId, status: chosen, evidenceLink: link.value.trim() }, CALL),
    });
  });
  return [
    el('p', { class: 'field' }, el('label', { for: id('status') }, t('progressLabel')), status),
    el('p', { class: 'field' }, el('label', { for: id('evidence') }, t('evidenceLabel')), link),
    el('div', { class: 'actions' }, report), box,
  ];
}

/** Accepted proposals (in full or in part) of the node's latest dialogues, for the coordinator. */
async function acceptedProposals(ctx) {
  const dialogues = (await ctx.node.listDialogues({ pageSize: 20, pageToken: '' }, CALL)).dialogues;
  const found = [];
  for (const d of dialogues) {
    const page = await ctx.node.listContributions({ dialogueId: d.dialogueId, pageSize: 200, pageToken: '' }, CALL);
    for (const c of page.contributions) {
      if (c.response === 1 || c.response === 2) found.push({ dialogue: d, contribution: c });
    }
  }
  return found;
}

function takeForm(ctx, plan, c, proposals, reload) {
  const taken = new Set(c.sources.map((s) => s.contributionId));
  const open = proposals.filter((p) => !taken.has(p.contribution.contributionId));
  if (!open.length) return '';
  const box = el('div', { 'aria-live': 'polite' });
  const id = `take-${c.commitmentId}`;
  const select = el('select', { id }, open.map((p, i) => el('option', { value: String(i) },
    `${p.dialogue.topic}: ${(p.contribution.text || '').slice(0, 80)}`)));
  const button = el('button', { type: 'button', 'data-action': 'take-proposal' }, t('takeProposal'));
  const requestId = uuidv7();
  button.addEventListener('click', () => {
    const chosen = open[Number(select.value)];
    runConfirmed({
      box, button, what: t('takeWhat')(c.title), reload,
      lines: [t('takesProposal')((chosen.contribution.text || '').slice(0, 200)), t('recordsActor')(t('roles').coordinator)],
      call: () => ctx.node.takeProposals({
        requestId, planId: plan.planId, commitmentId: c.commitmentId,
        dialogueId: chosen.dialogue.dialogueId, contributionIds: [chosen.contribution.contributionId],
      }, CALL),
    });
  });
  return [el('p', { class: 'field' }, el('label', { for: id }, t('proposalLabel')), select),
    el('div', { class: 'actions' }, button), box];
}

export async function planView(ctx, id, isCurrent, notice) {
  let plan;
  try {
    plan = await ctx.node.getPlan({ planId: id }, CALL);
  } catch {
    if (isCurrent()) show(el('p', { class: 'error' }, t('notFound')), el('p', {}, el('a', { href: '#/plans' }, t('backPlans'))));
    return;
  }
  if (!isCurrent()) return;
  const reload = (message) => planView(ctx, id, isCurrent, message);
  const coordinator = isCoordinator(ctx.who) && !plan.closed;
  const proposals = coordinator ? await acceptedProposals(ctx).catch(() => []) : [];
  if (!isCurrent()) return;
  const overdue = plan.milestones.filter((m) => m.overdue).length;
  const commitments = plan.commitmentDetails.map((c) => {
    const milestones = plan.milestones.filter((m) => m.commitmentId === c.commitmentId);
    return el('section', { class: 'commitment', 'aria-labelledby': `c-${c.commitmentId}` },
      el('h2', { id: `c-${c.commitmentId}` }, c.title),
      el('p', { class: 'petition-text' }, c.description),
      el('dl', { class: 'statute' },
        el('dt', {}, t('leadLabel')), el('dd', {}, c.leadInstitution),
        el('dt', {}, t('valuesLabel')), el('dd', {}, c.values.map((v) => t('ogpValue')[v] ?? v).join(', ') || '—'),
        el('dt', {}, t('periodLabel')), el('dd', {}, `${formatCivil(c.start)} – ${formatCivil(c.end)}`),
        el('dt', {}, t('selfAssessed')), el('dd', {}, c.completion ? `${t('implementation')[c.completion]} · ${t('openedGovernment')[c.openedGovernment] ?? '—'}` : t('notAssessed')),
        c.sources.length ? [el('dt', {}, t('fromProposals')), el('dd', {}, c.sources.map((s, i) => [i ? ', ' : '',
          el('a', { href: `#/dialogue/${s.dialogueId}`, 'data-source': s.contributionId }, t('proposalLink')(i + 1))]))] : '',
        c.withdrawn ? [el('dt', {}, t('withdrawnLabel')), el('dd', {}, t('withdrawn'))] : ''),
      coordinator && !c.withdrawn && !c.completion ? takeForm(ctx, plan, c, proposals, reload) : '',
      el('ul', { class: 'queue' }, milestones.map((m) => el('li', { 'data-milestone': m.milestoneId },
        el('h3', {}, m.title),
        el('p', { class: m.overdue ? 'due late' : 'due' }, `${t('dueLabel')}: ${formatCivil(m.due)}`, m.overdue ? el('strong', {}, ` · ${t('overdue')}`) : '', m.withdrawn ? ` · ${t('withdrawn')}` : ''),
        el('p', { class: 'meta' }, `${t('progressLabel')}: ${t('implementation')[m.status] ?? '—'} `, evidence(m.evidenceLink)),
        coordinator && !m.withdrawn && !plan.draft ? progressForm(ctx, plan, m, reload) : ''))));
  });
  show(
    el('p', {}, el('a', { href: '#/plans' }, t('backPlans'))),
    el('h1', {}, plan.title || '—'),
    notice ?? '',
    el('p', { class: 'meta', id: 'plan-status' }, `${formatCivil(plan.periodStart)} – ${formatCivil(plan.periodEnd)} · ${planStatus(plan)}${plan.councilDecision ? ` · ${plan.councilDecision}` : ''}`),
    el('p', { class: overdue ? 'error' : 'meta', id: 'overdue-count' }, t('overdueMilestones')(overdue)),
    containedProposals(plan),
    ...commitments,
    plan.draft || plan.forum.length ? forumSection(ctx, plan, coordinator, reload) : '',
    coordinator && plan.draft ? adoptForm(ctx, plan, reload) : '',
  );
}
