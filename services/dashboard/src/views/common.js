// What several views share: names of areas, the headline figures of a summary, metrics.

import { fmt, language, nameOf, t } from '../i18n.js';

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
