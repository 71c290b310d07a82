// The OGP Local action plan: residents read its commitments (OGP values, lead institution,
// period, assessment) and milestones (due date, progress on the IRM's scale, evidence, what is
// overdue); the coordinator reports a milestone's progress, confirmed.

import { CALL, reason } from './api.js';
import { confirmAction, el, formatCivil, main, show, uuidv7 } from './dom.js';
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
  const page = await ctx.node.listPlans({ pageSize: LIST_PAGE }, CALL);
  if (!isCurrent()) return;
  const list = el('ul', { class: 'petitions' }, page.plans.map((p) => el('li', {},
    el('h2', {}, el('a', { href: `#/plan/${p.planId}` }, p.title || '—')),
    el('p', { class: 'meta' }, `${formatCivil(p.periodStart)} – ${formatCivil(p.periodEnd)} · ${p.closed ? t('planClosed') : t('planActive')}`),
    el('p', { class: 'meta' }, t('planCounts')(p.commitments, p.milestones.length, p.milestones.filter((m) => m.overdue).length)))));
  show(el('h1', {}, t('nav').plans), page.plans.length ? list : el('p', {}, t('noPlans')));
}

function progressForm(ctx, plan, m, reload) {
  const box = el('div', { 'aria-live': 'polite' });
  const id = (name) => `${name}-${m.milestoneId}`;
  const status = el('select', { id: id('status') }, [1, 2, 3, 4, 5].map((s) => el('option', { value: String(s), selected: s === m.status }, t('implementation')[s])));
  const link = el('input', { id: id('evidence'), type: 'url', maxlength: String(EVIDENCE_LEN_MAX), value: m.evidenceLink });
  const report = el('button', { type: 'button', 'data-action': 'report-progress' }, t('reportProgress'));
  report.addEventListener('click', async () => {
    const chosen = Number(status.value);
    const what = t('progressWhat')(m.title);
    if (!(await confirmAction(what, [t('recordsProgress')(t('implementation')[chosen]), t('recordsEvidence')(link.value.trim() || '—'), t('recordsActor')(t('roles').coordinator)]))) return;
    box.replaceChildren(el('p', {}, t('recording')));
    try {
      const result = await ctx.node.reportProgress({ requestId: uuidv7(), planId: plan.planId, milestoneId: m.milestoneId, status: chosen, evidenceLink: link.value.trim() }, CALL);
      await reload(el('p', { class: 'notice', id: 'done' }, t('recorded')(what, String(result.firstSeq))));
      main.focus();
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, t('failed')(reason(e))));
    }
  });
  return [
    el('p', { class: 'field' }, el('label', { for: id('status') }, t('progressLabel')), status),
    el('p', { class: 'field' }, el('label', { for: id('evidence') }, t('evidenceLabel')), link),
    el('div', { class: 'actions' }, report), box,
  ];
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
        el('dt', {}, t('selfAssessed')), el('dd', {}, c.completion ? `${t('implementation')[c.completion]} · ${t('openedGovernment')[c.openedGovernment] ?? '—'}` : t('notAssessed'))),
      el('ul', { class: 'queue' }, milestones.map((m) => el('li', { 'data-milestone': m.milestoneId },
        el('h3', {}, m.title),
        el('p', { class: m.overdue ? 'due late' : 'due' }, `${t('dueLabel')}: ${formatCivil(m.due)}`, m.overdue ? el('strong', {}, ` · ${t('overdue')}`) : ''),
        el('p', { class: 'meta' }, `${t('progressLabel')}: ${t('implementation')[m.status] ?? '—'} `, evidence(m.evidenceLink)),
        coordinator ? progressForm(ctx, plan, m, reload) : ''))));
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
