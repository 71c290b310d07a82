// One hromada: where its verified history stands ("history verified up to checkpoint N,
// cosigned"), its figures, its weekly timeline, its action-plan milestones by IRM status and
// one by one (due date, status, overdue), and its dialogues by kind.

import { fmt, t, tOr } from '../i18n.js';
import { Code, ConnectError } from '../rpc.js';
import { href, withParams } from '../route.js';
import { PALETTE, barsOption, chart, dataTable, figures, h, select, updateFigures } from '../ui.js';
import { areaFigureItems, assessmentSection, budgetSection, hromadaTitle, oblastTitle } from './common.js';
import { WEEK_CHOICES, describeWeeks, weeklyChart, weeklyTable } from './trends.js';

const TIMELINE = ['petitions_filed', 'petitions_threshold_reached', 'petitions_answered',
  'dialogues_closed', 'contributions', 'milestones_completed'];

function provenance(m, node) {
  const p = m.provenance ?? {};
  const cosigned = Boolean(p.cosignedNote);
  const lines = [];
  if (p.checkpointSize > 0) {
    lines.push(h('p', { class: 'provenance-line', dataset: { checkpoint: String(p.checkpointSize) } },
      t(cosigned ? 'hromada.provenance' : 'hromada.provenance_uncosigned', { size: fmt.int(p.checkpointSize) })));
  } else {
    lines.push(h('p', { class: 'provenance-line', dataset: { checkpoint: '0' } }, t('hromada.provenance_none')));
  }
  lines.push(h('p', {}, t('hromada.verified_events', {
    n: fmt.int(p.verifiedSize ?? 0), when: fmt.micros(p.verifiedAtMicros),
  })));
  if (node) {
    lines.push(h('p', {}, t('hromada.node_status', {
      status: tOr(`node.${node.status}`, node.status), lag: fmt.int(node.lagEvents),
    })));
  }
  if (p.checkpointRoot) {
    lines.push(h('dl', { class: 'kv' },
      h('dt', {}, t('hromada.root')), h('dd', {}, h('code', {}, p.checkpointRoot))));
  }
  if (cosigned) {
    lines.push(h('details', {},
      h('summary', {}, t('hromada.note')), h('pre', { class: 'note-text' }, p.cosignedNote)));
  }
  return h('section', { class: 'provenance', 'aria-label': t('hromada.root') }, lines);
}

/**
 * What the action plan opened up, as the hromada itself assessed it: commitments assessed, the
 * "did it open government" levels, and the dialogues' outcome reports (served by the national
 * API, shown here). Self-assessment, not an independent one: the heading says so.
 */
function openness(f, code) {
  const levels = f.openedGovernment ?? [];
  return h('section', { 'aria-labelledby': 'openness-title', class: 'openness' },
    h('h2', { id: 'openness-title' }, t('hromada.openness')),
    h('p', { class: 'note' }, t('hromada.openness_note')),
    figures([
      { key: 'commitments', label: t('figure.commitments'), value: f.commitments },
      { key: 'commitments_assessed', label: t('figure.commitments_assessed'), value: f.commitmentsAssessed },
      { key: 'outcome_reports', label: t('figure.outcome_reports'), value: f.outcomeReports },
    ], { id: 'openness' }),
    dataTable({
      id: 'opened-government',
      title: t('hromada.opened_government'),
      csvName: `opened-government-${code}`,
      columns: [
        { key: 'kind', label: t('hromada.opened_level'), value: (k) => tOr(`opened.${k.kind}`, k.kind) },
        { key: 'count', label: t('hromada.count'), kind: 'int' },
      ],
      rows: levels,
    }));
}

/**
 * Deadlines under the law: what the council owes now past its deadline and what it did late,
 * on the national clock (moderation within 2 working days, the start of consideration within 3
 * of the threshold, the answer within the statute's term), and a flag where the hromada's
 * statute gives itself more than the law.
 */
function law(f) {
  const flags = [];
  if (f.statuteAnswerBeyondLaw > 0) {
    flags.push(h('p', { class: 'flag', dataset: { flag: 'statute_answer' } },
      t('hromada.flag_answer_term', { n: fmt.int(f.statuteAnswerBeyondLaw) })));
  }
  if (f.statuteCollectionBeyondLaw > 0) {
    flags.push(h('p', { class: 'flag', dataset: { flag: 'statute_collection' } },
      t('hromada.flag_collection', { n: fmt.int(f.statuteCollectionBeyondLaw) })));
  }
  const answeredLate = (f.petitionsAnswered ?? 0) - (f.petitionsAnsweredOnTime ?? 0);
  return h('section', { 'aria-labelledby': 'law-title', class: 'law' },
    h('h2', { id: 'law-title' }, t('hromada.law')),
    h('p', { class: 'note' }, t('hromada.law_note')),
    flags,
    figures([
      { key: 'petitions_moderation_overdue_now', label: t('figure.petitions_moderation_overdue_now'), value: f.petitionsModerationOverdueNow },
      { key: 'petitions_moderated_late', label: t('figure.petitions_moderated_late'), value: f.petitionsModeratedLate },
      { key: 'petitions_started_late', label: t('figure.petitions_started_late'), value: f.petitionsStartedLate },
      { key: 'petitions_answered_late', label: t('figure.petitions_answered_late'), value: answeredLate },
    ], { id: 'law' }));
}

export async function hromada({ api, route }) {
  const code = route.arg;
  const weeksWanted = WEEK_CHOICES.includes(Number(route.params.get('weeks')))
    ? Number(route.params.get('weeks')) : 52;
  let m;
  try {
    m = await api.municipality(code);
  } catch (e) {
    if (e instanceof ConnectError && (e.code === Code.NotFound || e.code === Code.InvalidArgument)) return null;
    throw e;
  }
  const [weeks, node, oblasts, milestoneList, independent] = await Promise.all([
    api.timeSeries(code, weeksWanted),
    m.enrolled ? api.node(code).catch(() => null) : null,
    api.oblasts(),
    m.enrolled ? api.milestones(code) : [],
    // The page stands without them (the section says there are none).
    m.enrolled ? api.assessments(code).catch(() => null) : null,
  ]);
  const f = m.figures ?? {};
  const title = hromadaTitle(m);
  const oblast = oblasts.find((o) => o.code === m.oblastCode);

  const statuses = f.milestonesByStatus ?? [];
  const statusText = (s) => tOr(`status.${s.kind}`, s.kind);
  const milestonesDesc = t('hromada.milestones_desc', {
    list: statuses.map((s) => `${statusText(s)} ${fmt.int(s.count)}`).join(', '),
  });
  const milestones = chart({
    id: 'milestones',
    title: t('hromada.milestones'),
    description: milestonesDesc,
    height: 280,
    option: barsOption({
      bars: statuses.map((s, i) => ({
        label: statusText(s),
        value: s.count,
        // No report yet grey; substantial and complete green; the rest amber.
        colour: i >= 4 ? PALETTE[2] : i === 0 ? '#9a9a9a' : PALETTE[1],
      })),
      name: t('hromada.count'),
      show: (v) => fmt.int(v),
      integer: true,
    }),
  });

  const element = h('div', { class: 'view view-hromada', dataset: { code } },
    h('p', { class: 'breadcrumb' },
      h('a', { href: href('/oblasts') }, t('nav.oblasts')), ' › ',
      oblast ? h('a', { href: href(`/oblast/${oblast.code}`) }, oblastTitle(oblast)) : m.oblastCode),
    h('h1', { tabindex: -1 }, title),
    h('dl', { class: 'kv' },
      h('dt', {}, t('common.code')), h('dd', {}, m.code),
      h('dt', {}, t('hromada.kind_label')), h('dd', {}, tOr(`hromada.kind.${m.kind}`, m.kind)),
      h('dt', {}, t('common.population')), h('dd', {}, fmt.int(f.population)),
      h('dt', {}, t('common.enrolled')), h('dd', {}, m.enrolled ? t('common.yes') : t('common.no'))),
    m.enrolled ? provenance(m, node) : h('p', { class: 'note' }, t('hromada.not_enrolled')),
    h('section', { 'aria-label': t('hromada.figures') },
      h('h2', {}, t('hromada.figures')),
      figures(areaFigureItems(f), { id: 'hromada' })),
    law(f),
    openness(f, code),
    m.enrolled ? assessmentSection(independent, f.openedGovernment, 'hromada') : null,
    budgetSection(f, 'hromada'),
    h('div', { class: 'controls' },
      select({
        label: t('common.weeks'), name: 'weeks', value: weeksWanted,
        options: WEEK_CHOICES.map((n) => [n, fmt.int(n)]),
        onchange: (value) => { window.location.hash = withParams(route, { weeks: value }); },
      })),
    weeklyChart({
      id: 'timeline', title: t('hromada.timeline'), weeks, series: TIMELINE,
      description: describeWeeks(weeks, title),
    }).element,
    weeklyTable({ id: 'timeline', title: t('hromada.timeline_table'), weeks, csvName: `timeline-${code}` }),
    milestones.element,
    dataTable({
      id: 'milestones',
      title: t('hromada.milestones_table'),
      csvName: `milestones-${code}`,
      columns: [
        { key: 'kind', label: t('hromada.status'), value: statusText },
        { key: 'count', label: t('hromada.count'), kind: 'int' },
      ],
      rows: statuses,
    }),
    dataTable({
      id: 'milestone-list',
      title: t('hromada.milestone_list'),
      note: t('hromada.milestone_list_note'),
      csvName: `milestone-list-${code}`,
      columns: [
        { key: 'due', label: t('hromada.due'), kind: 'date' },
        { key: 'status', label: t('hromada.status'), value: (r) => statusText({ kind: r.status }) },
        { key: 'overdue', label: t('hromada.overdue'), value: (r) => (r.overdue ? t('common.yes') : t('common.no')) },
        { key: 'completedOn', label: t('hromada.completed_on'), kind: 'date' },
        { key: 'commitmentId', label: t('hromada.commitment'), value: (r) => r.commitmentId.slice(0, 8) },
      ],
      rows: milestoneList,
    }),
    dataTable({
      id: 'dialogues',
      title: t('hromada.dialogues'),
      csvName: `dialogues-${code}`,
      columns: [
        { key: 'kind', label: t('hromada.kind'), value: (k) => tOr(`dialogue.${k.kind}`, k.kind) },
        { key: 'count', label: t('hromada.count'), kind: 'int' },
      ],
      rows: f.dialoguesByKind ?? [],
    }));
  // The figures follow each live update that names this hromada at once (one call, one in
  // flight; an update arriving meanwhile is read after it); the rest of the view follows with
  // the dashboard's throttled refresh.
  let reading = false;
  let again = false;
  const follow = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const fresh = await api.municipality(code);
        const values = Object.fromEntries(areaFigureItems(fresh.figures ?? {})
          .map((item) => [item.key, { value: item.value, kind: item.kind ?? 'int' }]));
        updateFigures(element, values);
      } while (again);
    } catch (e) {
      console.warn('hromada figures not refreshed', e);
    } finally {
      reading = false;
    }
  };
  return {
    element,
    title,
    onUpdate(update) {
      if ((update.municipalities ?? []).includes(code)) follow();
    },
  };
}
