// What several views share: names of areas, the headline figures of a summary, metrics.

import { fmt, language, nameOf, t, tOr } from '../i18n.js';
import { href } from '../route.js';
import { dataTable, figures, h } from '../ui.js';

/** An oblast's name as a title: "Вінницька область" / "Vinnytska oblast"; Kyiv, Sevastopol and
 * Crimea as they are. */
export function oblastTitle(oblast) {
  const name = nameOf(oblast);
  const adjective = language() === 'uk' ? /ька$/.test(name) : /ka$/.test(name);
  return adjective ? t('oblast.title', { name }) : name;
}

/** A hromada's name as a title: "Вінницька міська громада" / "Vinnytska city hromada". */
export function hromadaTitle(m) {
  const name = nameOf(m);
  const kindKey = `hromada.kind.${m.kind}`;
  if (!['city', 'settlement', 'village'].includes(m.kind)) return name;
  return t('hromada.title', { name: `${name} ${t(kindKey)}` });
}

/** The area selector's choices: the nation, then every oblast. */
export function areaOptions(oblasts) {
  return [['', t('common.nation')], ...oblasts.map((o) => [o.code, oblastTitle(o)])];
}

export function areaName(area, oblasts) {
  if (!area) return t('common.nation');
  const oblast = oblasts.find((o) => o.code === area);
  return oblast ? oblastTitle(oblast) : area;
}

/** Headline figures of a Summary, keyed like the page's `data-figure` attributes. */
export function summaryFigures(summary) {
  const f = summary.figures ?? {};
  return {
    municipalities_reporting: {
      value: summary.municipalitiesReporting,
      sub: t('figure.municipalities_reporting_of', { n: fmt.int(summary.municipalitiesEnrolled) }),
    },
    events_verified: { value: summary.eventsVerified },
    petitions_filed: { value: f.petitionsFiled },
    signatures: { value: f.signatures },
    petitions_threshold_reached: { value: f.petitionsThresholdReached },
    petitions_answered: { value: f.petitionsAnswered },
    share_answered_on_time: { value: f.shareAnsweredOnTime, kind: 'pct' },
    petitions_overdue_now: { value: f.petitionsOverdueNow },
    dialogues_closed: { value: f.dialoguesClosed },
    contributions: { value: f.contributions },
    milestones: { value: f.milestones },
    share_milestones_substantial_or_complete: {
      value: f.shareMilestonesSubstantialOrComplete, kind: 'pct',
    },
    petitions_per_10k: { value: f.petitionsPer10k, kind: 'dec' },
  };
}

/** Kopecks (a uint64, so a BigInt) as millions of hryvnias (a national sum runs to billions). */
function millionHryvnias(kopecks) {
  return Number(kopecks ?? 0) / 100 / 1_000_000;
}

/** Participatory budget figures of an area, keyed like the page's `data-figure` attributes. */
export function budgetFigures(f) {
  return {
    budget_rounds: { value: f.budgetRounds },
    budget_amount_muah: { value: millionHryvnias(f.budgetAmount), kind: 'dec' },
    budget_share_of_local_budget: { value: f.budgetShareOfLocalBudget, kind: 'pct' },
    budget_ballots: { value: f.budgetBallots },
    budget_ballots_per_10k: { value: f.budgetBallotsPer10k, kind: 'dec' },
    budget_projects_funded: { value: f.budgetProjectsFunded },
    budget_funded_total_muah: { value: millionHryvnias(f.budgetFundedTotal), kind: 'dec' },
    budget_implementation_rate: { value: f.budgetImplementationRate, kind: 'pct' },
  };
}

/**
 * An area's participatory budgets (громадський бюджет): its rounds, what they offered as a
 * share of the local budgets they state, ballots per 10,000 residents per round, and how many
 * funded projects were completed. Each rate's definition is written under it.
 */
export function budgetSection(f, id) {
  const items = Object.entries(budgetFigures(f)).map(([key, v]) => ({
    key, label: t(`figure.${key}`), value: v.value, kind: v.kind,
  }));
  return h('section', { 'aria-labelledby': `${id}-budgets-title`, class: 'budgets' },
    h('h2', { id: `${id}-budgets-title` }, t('budgets.title')),
    Number(f.budgetRounds ?? 0) > 0
      ? [figures(items, { id: `${id}-budgets` }), h('p', { class: 'note' }, t('budgets.note'))]
      : h('p', { class: 'note' }, t('budgets.none')));
}

/**
 * Independent assessment of an area's OGP-Local commitments: what monitors the association
 * enrolled (never the hromada itself) said, each assessment beside the hromada's own
 * self-reported one and naming who assessed. `answer` is ListAssessments' reply; `selfLevels`
 * the area's self-reported "did it open government" counts (`Figures.openedGovernment`).
 */
export function assessmentSection(answer, selfLevels, id, { showHromada = false } = {}) {
  const f = answer?.figures ?? {};
  const rows = answer?.assessments ?? [];
  const opened = (kind) => (kind ? tOr(`opened.${kind}`, kind) : '—');
  const completion = (kind) => (kind ? tOr(`status.${kind}`, kind) : '—');
  const selfCount = new Map((selfLevels ?? []).map((k) => [k.kind, k.count]));
  const columns = [
    ...(showHromada ? [{
      key: 'hromada', label: t('common.hromada'),
      value: (a) => hromadaTitle({ nameUk: a.nameUk, nameEn: a.nameEn }),
      link: (a) => href(`/hromada/${a.code}`),
    }] : []),
    { key: 'commitment', label: t('assessment.commitment'), value: (a) => a.title || a.commitmentId.slice(0, 8) },
    // The name as enrolled when it assessed, and the monitor's id, which no other monitor has.
    { key: 'monitor', label: t('assessment.monitor'), value: (a) => (a.monitorName ? `${a.monitorName} (${a.monitor})` : a.monitor) },
    { key: 'completion', label: t('assessment.completion'), value: (a) => completion(a.completion) },
    { key: 'opened', label: t('assessment.opened'), value: (a) => opened(a.openedGovernment) },
    {
      key: 'self', label: t('assessment.self_reported'),
      value: (a) => (a.selfOpenedGovernment
        ? `${completion(a.selfCompletion)} · ${opened(a.selfOpenedGovernment)}` : t('assessment.no_self')),
    },
    { key: 'assessedOn', label: t('assessment.assessed_on'), kind: 'date' },
    { key: 'summary', label: t('assessment.summary') },
  ];
  return h('section', { 'aria-labelledby': `${id}-independent-title`, class: 'independent', dataset: { section: 'independent' } },
    h('h2', { id: `${id}-independent-title` }, t('assessment.title')),
    h('p', { class: 'note' }, t('assessment.note')),
    figures([
      { key: 'independent_commitments_assessed', label: t('figure.independent_commitments_assessed'), value: f.commitmentsAssessed },
      { key: 'independent_monitors', label: t('figure.independent_monitors'), value: f.monitors },
    ], { id: `${id}-independent` }),
    dataTable({
      id: `${id}-opened-compare`,
      title: t('assessment.compare'),
      note: t('assessment.compare_note'),
      csvName: `opened-government-compared-${id}`,
      columns: [
        { key: 'kind', label: t('hromada.opened_level'), value: (k) => opened(k.kind) },
        { key: 'count', label: t('assessment.independent_count'), kind: 'int' },
        { key: 'self', label: t('assessment.self_count'), kind: 'int', value: (k) => selfCount.get(k.kind) ?? 0 },
      ],
      rows: f.openedGovernment ?? [],
    }),
    dataTable({
      id: `${id}-assessments`,
      title: t('assessment.list'),
      note: answer && answer.totalSize > rows.length
        ? t('assessment.newest', { n: fmt.int(rows.length), total: fmt.int(answer.totalSize) }) : undefined,
      csvName: `independent-assessments-${id}`,
      columns,
      rows,
    }));
}

/** The figures of one area (a hromada or an oblast) as headline items. */
export function areaFigureItems(f) {
  const keys = [
    ['petitions_filed', f.petitionsFiled],
    ['signatures', f.signatures],
    ['petitions_threshold_reached', f.petitionsThresholdReached],
    ['petitions_answered', f.petitionsAnswered],
    ['share_answered_on_time', f.shareAnsweredOnTime, 'pct'],
    ['petitions_overdue_now', f.petitionsOverdueNow],
    ['dialogues_closed', f.dialoguesClosed],
    ['contributions', f.contributions],
    ['milestones', f.milestones],
    ['share_milestones_substantial_or_complete', f.shareMilestonesSubstantialOrComplete, 'pct'],
    ['petitions_per_10k', f.petitionsPer10k, 'dec'],
  ];
  return keys.map(([key, value, kind]) => ({ key, label: t(`figure.${key}`), value, kind }));
}

/** The leaderboard's metrics, in the API's names, and how their values show. */
export const LEADERBOARD_METRICS = [
  ['petitions_per_10k', 'dec'],
  ['signatures_per_10k', 'dec'],
  ['contributions_per_10k', 'dec'],
  ['share_answered_on_time', 'pct'],
  ['share_milestones_substantial_or_complete', 'pct'],
];

export function showValue(kind, value) {
  return kind === 'pct' ? fmt.pct(value) : fmt.dec(value, 2);
}
