// The leaderboard of hromadas by a rate per 10,000 residents or a share, with the counts
// behind each value (numerator and denominator), for the nation or one oblast.

import { fmt, nameOf, t } from '../i18n.js';
import { href, withParams } from '../route.js';
import { barsHeight, barsOption, chart, dataTable, h, select } from '../ui.js';
import { LEADERBOARD_METRICS, oblastTitle, showValue } from './common.js';

export const LIMITS = [20, 50, 100, 500];
/** Bars drawn; the table has them all. */
const BARS_MAX = 20;

export async function leaderboard({ api, route }) {
  const metrics = LEADERBOARD_METRICS.map(([m]) => m);
  const metric = metrics.includes(route.params.get('metric')) ? route.params.get('metric') : metrics[0];
  const kind = LEADERBOARD_METRICS.find(([m]) => m === metric)[1];
  const limit = LIMITS.includes(Number(route.params.get('limit'))) ? Number(route.params.get('limit')) : 20;
  const ascending = route.params.get('order') === 'asc';
  const oblast = route.params.get('oblast') ?? '';
  const [oblasts, board] = await Promise.all([
    api.oblasts(), api.leaderboard({ metric, limit, oblast, ascending }),
  ]);
  const metricLabel = t(`metric.${metric}`);
  const entries = board.entries;
  const bars = entries.slice(0, BARS_MAX);
  const description = entries.length
    ? t('leaderboard.chart_desc', {
      metric: metricLabel, first: nameOf(entries[0]), value: showValue(kind, entries[0].value),
      n: fmt.int(entries.length),
    })
    : t('table.empty');

  const go = (changes) => { window.location.hash = withParams(route, changes); };
  const element = h('div', { class: 'view view-leaderboard' },
    h('h1', { tabindex: -1 }, t('leaderboard.title')),
    h('div', { class: 'controls' },
      select({
        label: t('leaderboard.metric'), name: 'metric', value: metric,
        options: metrics.map((m) => [m, t(`metric.${m}`)]), onchange: (v) => go({ metric: v }),
      }),
      select({
        label: t('leaderboard.oblast'), name: 'oblast', value: oblast,
        options: [['', t('leaderboard.all_oblasts')], ...oblasts.map((o) => [o.code, oblastTitle(o)])],
        onchange: (v) => go({ oblast: v }),
      }),
      select({
        label: t('leaderboard.limit'), name: 'limit', value: limit,
        options: LIMITS.map((n) => [n, fmt.int(n)]), onchange: (v) => go({ limit: v }),
      }),
      select({
        label: t('leaderboard.order'), name: 'order', value: ascending ? 'asc' : 'desc',
        options: [['desc', t('leaderboard.desc')], ['asc', t('leaderboard.asc')]],
        onchange: (v) => go({ order: v === 'asc' ? 'asc' : '' }),
      })),
    chart({
      id: 'leaderboard',
      title: metricLabel,
      description,
      height: barsHeight(bars.length),
      option: barsOption({
        bars: bars.map((e) => ({ label: nameOf(e), value: e.value })),
        name: metricLabel,
        show: (v) => showValue(kind, v),
        max: kind === 'pct' ? 1 : undefined,
      }),
    }).element,
    dataTable({
      id: 'leaderboard',
      title: t('leaderboard.table', { metric: metricLabel }),
      note: t('leaderboard.note'),
      csvName: `leaderboard-${metric}${oblast ? `-${oblast}` : ''}`,
      columns: [
        { key: 'rank', label: t('leaderboard.rank'), kind: 'int' },
        { key: 'name', label: t('common.hromada'), value: (e) => nameOf(e), link: (e) => href(`/hromada/${e.code}`) },
        { key: 'code', label: t('common.code') },
        { key: 'value', label: metricLabel, kind },
        { key: 'numerator', label: `${t('leaderboard.numerator')}: ${t(`numerator.${metric}`)}`, kind: 'int' },
        { key: 'denominator', label: `${t('leaderboard.denominator')}: ${t(`denominator.${metric}`)}`, kind: 'int' },
      ],
      rows: entries,
    }));
  return { element, title: t('leaderboard.title') };
}
