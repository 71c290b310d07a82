// The national overview: headline figures (updated live from WatchUpdates) and the map of
// every hromada's centre, sized and coloured by the chosen metric.

import { fmt, nameOf, t } from '../i18n.js';
import { href, withParams } from '../route.js';
import { chart, dataTable, figures, h, select, updateFigures } from '../ui.js';
import {
  assessmentSection, budgetFigures, budgetSection, hromadaTitle, oblastTitle, summaryFigures,
} from './common.js';

export const MAP_METRICS = [
  'petitions_per_10k',
  'share_answered_on_time',
  'share_milestones_substantial_or_complete',
  'freshness',
];
/** Places named in the map's text description. */
const DESCRIBED_MAX = 5;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The metric's value for hromada `m`, or null when it has none (shown grey). */
function metricValue(metric, m, node, nowMicros) {
  if (!m.enrolled) return null;
  const f = m.figures ?? {};
  switch (metric) {
    case 'petitions_per_10k': return f.population > 0 ? f.petitionsPer10k : null;
    case 'share_answered_on_time': return f.petitionsAnswered > 0 ? f.shareAnsweredOnTime : null;
    case 'share_milestones_substantial_or_complete':
      return f.milestones > 0 ? f.shareMilestonesSubstantialOrComplete : null;
    case 'freshness':
      return node && node.verifiedAtMicros > 0
        ? Math.max(0, (nowMicros - node.verifiedAtMicros) / 60e6) : null;
    default: return null;
  }
}

function showMetric(metric, value) {
  if (metric.startsWith('share_')) return fmt.pct(value);
  if (metric === 'freshness') return fmt.dec(value, 1);
  return fmt.dec(value, 2);
}

export function headlineItems(summary) {
  const values = summaryFigures(summary);
  return Object.entries(values).map(([key, v]) => ({
    key, label: t(`figure.${key}`), value: v.value, kind: v.kind, sub: v.sub,
  }));
}

export async function overview({ api, route, outline }) {
  const metric = MAP_METRICS.includes(route.params.get('metric'))
    ? route.params.get('metric') : 'petitions_per_10k';
  const [summary, municipalities, nodes, oblasts, , independent] = await Promise.all([
    api.summary(), api.municipalities(), api.nodes(), api.oblasts(), outline(), api.assessments('').catch(() => null),
  ]);
  const nodeByCode = new Map(nodes.map((n) => [n.code, n]));
  const oblastByCode = new Map(oblasts.map((o) => [o.code, o]));
  const now = Date.now() * 1000;

  const valued = [];
  const grey = [];
  for (const m of municipalities) {
    const value = metricValue(metric, m, nodeByCode.get(m.code), now);
    const point = { name: nameOf(m), code: m.code, value: [m.centreLon, m.centreLat, value ?? 0] };
    if (value === null) grey.push(point);
    else valued.push({ ...point, m, metricValue: value });
  }
  const max = Math.max(0, ...valued.map((p) => p.metricValue)) || 1;
  const freshness = metric === 'freshness';
  const ranked = [...valued].sort((a, b) => (freshness
    ? a.metricValue - b.metricValue : b.metricValue - a.metricValue));
  const top = ranked.slice(0, DESCRIBED_MAX)
    .map((p) => `${p.name} (${showMetric(metric, p.metricValue)})`).join(', ');
  const metricLabel = t(`metric.${metric}`);
  const description = valued.length
    ? t('overview.map_desc', { shown: fmt.int(valued.length), metric: metricLabel, top })
    : t('overview.map_desc_empty', { metric: metricLabel });

  const map = chart({
    id: 'map',
    title: t('overview.map'),
    height: 520,
    description,
    option: {
      tooltip: {
        trigger: 'item',
        formatter: (p) => {
          const point = p.data;
          const shown = p.seriesId === 'valued'
            ? `${escape(metricLabel)}: ${escape(showMetric(metric, point.value[2]))}` : escape(t('common.none'));
          return `<strong>${escape(point.name)}</strong><br>${shown}`;
        },
      },
      geo: {
        map: 'UA',
        roam: false,
        silent: true,
        aspectScale: 0.66,
        layoutCenter: ['50%', '48%'],
        layoutSize: '96%',
        itemStyle: { areaColor: '#f3f0e6', borderColor: '#7a7a7a', borderWidth: 1 },
      },
      visualMap: {
        type: 'continuous',
        seriesIndex: 1,
        dimension: 2,
        min: 0,
        max,
        orient: 'horizontal',
        left: 'center',
        bottom: 0,
        itemWidth: 12,
        text: [showMetric(metric, max), showMetric(metric, 0)],
        inRange: { color: freshness ? ['#2a9d5c', '#e0b400', '#b3261e'] : ['#9ecae1', '#0057b7', '#08306b'] },
      },
      series: [
        {
          id: 'grey', type: 'scatter', coordinateSystem: 'geo', data: grey,
          symbolSize: 3, itemStyle: { color: '#b5b5b5' }, cursor: 'pointer',
        },
        {
          id: 'valued', type: 'scatter', coordinateSystem: 'geo',
          data: valued.map(({ name, code, value }) => ({ name, code, value })),
          symbolSize: (v) => (freshness ? 9 : 5 + 17 * Math.sqrt(Math.max(0, v[2]) / max)),
          itemStyle: { borderColor: '#ffffff', borderWidth: 0.5 }, cursor: 'pointer',
        },
      ],
    },
  });
  map.onReady = (instance) => instance.on('click', (p) => {
    if (p.data?.code) window.location.hash = href(`/hromada/${p.data.code}`);
  });

  const metricControl = select({
    label: t('overview.metric'),
    name: 'metric',
    value: metric,
    options: MAP_METRICS.map((m) => [m, t(`metric.${m}`)]),
    onchange: (value) => { window.location.hash = withParams(route, { metric: value }); },
  });
  const kind = metric.startsWith('share_') ? 'pct' : 'dec';
  const table = dataTable({
    id: 'map-values',
    title: t('overview.map_table'),
    csvName: `map-${metric}`,
    columns: [
      { key: 'name', label: t('common.hromada'), value: (p) => hromadaTitle(p.m), link: (p) => href(`/hromada/${p.code}`) },
      { key: 'code', label: t('common.code'), value: (p) => p.code },
      { key: 'oblast', label: t('common.oblast'), value: (p) => {
        const o = oblastByCode.get(p.m.oblastCode);
        return o ? oblastTitle(o) : p.m.oblastCode;
      } },
      { key: 'value', label: metricLabel, kind, value: (p) => p.metricValue },
    ],
    rows: ranked,
  });

  const element = h('div', { class: 'view view-overview' },
    h('h1', { tabindex: -1 }, t('overview.title')),
    h('p', { class: 'as-of' }, t('app.as_of', { date: fmt.date(summary.asOfDate) })),
    h('section', { 'aria-label': t('overview.headline') },
      h('h2', { class: 'sr-only' }, t('overview.headline')),
      figures(headlineItems(summary), { id: 'headline' })),
    h('div', { class: 'controls' }, metricControl),
    map.element,
    h('p', { class: 'note' }, t('overview.map_legend')),
    table,
    budgetSection(summary.figures ?? {}, 'overview'),
    assessmentSection(independent, summary.figures?.openedGovernment, 'overview', { showHromada: true }));
  return {
    element,
    title: t('overview.title'),
    /** The headline figures change at once with each live update. */
    onUpdate(update) {
      if (update.summary) {
        updateFigures(element, summaryFigures(update.summary));
        updateFigures(element, budgetFigures(update.summary.figures ?? {}));
      }
    },
  };
}
