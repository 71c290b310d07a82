// The OGP Local action plan: residents read its commitments (OGP values, lead institution,
// period, assessment, the forum's proposals each one takes, linked to them) and milestones (due
// date, progress on the IRM's scale, evidence, what is overdue, what was withdrawn); the
// coordinator reports a milestone's progress and has a commitment take a proposal the forum
// accepted, each confirmed.

import { CALL } from './api.js';
import { el, formatCivil, pageOn, runConfirmed, show, uuidv7 } from './dom.js';
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
      el('p', { class: 'meta' }, `${formatCivil(p.periodStart)} – ${formatCivil(p.periodEnd)} · ${p.closed ? t('planClosed') : t('planActive')}`),
      el('p', { class: 'meta' }, t('planCounts')(p.commitments, p.milestones.length, p.milestones.filter((m) => m.overdue).length)))));
    return page.nextPageToken;
  };
  pageOn(more, load, await load(''));
  if (!isCurrent()) return;
  show(el('h1', {}, t('nav').plans), list.childElementCount ? list : el('p', {}, t('noPlans')), more);
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
        coordinator && !m.withdrawn ? progressForm(ctx, plan, m, reload) : ''))));
  });
  show(
    el('p', {}, el('a', { href: '#/plans' }, t('backPlans'))),
    el('h1', {}, plan.title || '—'),
    notice ?? '',
    el('p', { class: 'meta' }, `${formatCivil(plan.periodStart)} – ${formatCivil(plan.periodEnd)} · ${plan.closed ? t('planClosed') : t('planActive')}${plan.councilDecision ? ` · ${plan.councilDecision}` : ''}`),
    el('p', { class: overdue ? 'error' : 'meta', id: 'overdue-count' }, t('overdueMilestones')(overdue)),
    ...commitments,
  );
}
