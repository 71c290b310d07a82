// Weekly trend lines for the nation or an oblast: petitions filed, reaching the threshold and
// answered, and dialogues held (closed), with the weekly table behind them.

import { fmt, t } from '../i18n.js';
import { withParams } from '../route.js';
import { PALETTE, chart, dataTable, h, select } from '../ui.js';
import { areaName, areaOptions } from './common.js';

export const WEEK_CHOICES = [12, 26, 52, 104, 156];
const SERIES = ['petitions_filed', 'petitions_threshold_reached', 'petitions_answered', 'dialogues_closed'];
const camel = (key) => key.replace(/_(\w)/g, (_, c) => c.toUpperCase());

/** A line chart of `series` (keys of Week) over `weeks`, with its text description. */
export function weeklyChart({ id, title, weeks, series, description }) {
  return chart({
    id,
    title,
    description,
    option: {
      color: PALETTE,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 24, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: weeks.map((w) => fmt.date(w.weekStart)) },
      yAxis: { type: 'value', minInterval: 1 },
      series: series.map((key) => ({
        name: t(`series.${key}`),
        type: 'line',
        showSymbol: weeks.length <= 26,
        data: weeks.map((w) => w[camel(key)]),
      })),
    },
  });
}

/** The table of weekly figures. */
export function weeklyTable({ id, title, weeks, csvName }) {
  const keys = ['petitions_filed', 'signatures', 'petitions_threshold_reached', 'petitions_answered',
    'dialogues_closed', 'contributions', 'milestones_completed'];
  return dataTable({
    id,
    title,
    csvName,
    columns: [
      { key: 'weekStart', label: t('common.week'), kind: 'date' },
      ...keys.map((key) => ({ key: camel(key), label: t(`series.${key}`), kind: 'int' })),
    ],
    rows: weeks,
  });
}

export function describeWeeks(weeks, area) {
  const sum = (key) => weeks.reduce((n, w) => n + w[camel(key)], 0);
  const peak = weeks.reduce((best, w) => (w.petitionsFiled > best.petitionsFiled ? w : best), weeks[0]);
  return t('trends.desc', {
    area,
    weeks: weeks.length,
    last: fmt.date(weeks.at(-1)?.weekStart),
    filed: fmt.int(sum('petitions_filed')),
    reached: fmt.int(sum('petitions_threshold_reached')),
    answered: fmt.int(sum('petitions_answered')),
    held: fmt.int(sum('dialogues_closed')),
    peak: fmt.int(peak?.petitionsFiled ?? 0),
    peakWeek: fmt.date(peak?.weekStart),
  });
}

export async function trends({ api, route }) {
  const area = route.params.get('area') ?? '';
  const weeksWanted = WEEK_CHOICES.includes(Number(route.params.get('weeks')))
    ? Number(route.params.get('weeks')) : 52;
  const [oblasts, weeks] = await Promise.all([api.oblasts(), api.timeSeries(area, weeksWanted)]);
  const name = areaName(area, oblasts);
  const element = h('div', { class: 'view view-trends' },
    h('h1', { tabindex: -1 }, t('trends.title')),
    h('div', { class: 'controls' },
      select({
        label: t('common.area'), name: 'area', value: area, options: areaOptions(oblasts),
        onchange: (value) => { window.location.hash = withParams(route, { area: value }); },
      }),
      select({
        label: t('common.weeks'), name: 'weeks', value: weeksWanted,
        options: WEEK_CHOICES.map((n) => [n, fmt.int(n)]),
        onchange: (value) => { window.location.hash = withParams(route, { weeks: value }); },
      })),
    weeklyChart({
      id: 'trends', title: `${t('trends.chart')}: ${name}`, weeks, series: SERIES,
      description: describeWeeks(weeks, name),
    }).element,
    weeklyTable({ id: 'weeks', title: t('trends.table'), weeks, csvName: `weeks-${area || 'UA'}` }));
  return { element, title: t('trends.title') };
}
