// How long petitions wait for an answer: the histogram of calendar days from the start of
// consideration to the answer, the legal deadline marked, and the share answered late.

import { fmt, t } from '../i18n.js';
import { withParams } from '../route.js';
import { PALETTE, chart, dataTable, figures, h, select } from '../ui.js';
import { areaName, areaOptions } from './common.js';

/** 10 working days are at least 14 calendar days (two full weeks, no holidays). */
export const DEADLINE_CALENDAR_DAYS_MIN = 14;

export async function answers({ api, route }) {
  const area = route.params.get('area') ?? '';
  const [oblasts, days, summary] = await Promise.all([
    api.oblasts(), api.answerDays(area), area ? null : api.summary(),
  ]);
  const name = areaName(area, oblasts);
  const figuresOfArea = area
    ? oblasts.find((o) => o.code === area)?.figures ?? {}
    : summary.figures ?? {};
  const buckets = days.buckets;
  const maxDay = Math.max(DEADLINE_CALENDAR_DAYS_MIN + 2, ...buckets.map((b) => b.days));
  const counts = new Map(buckets.map((b) => [b.days, b.count]));
  const categories = Array.from({ length: maxDay + 1 }, (_, d) => d);
  const shareLate = days.answered ? days.answeredLate / days.answered : 0;
  const mode = buckets.reduce((best, b) => (b.count > (best?.count ?? -1) ? b : best), null);
  const description = days.answered
    ? t('answers.desc', {
      area: name, answered: fmt.int(days.answered), late: fmt.int(days.answeredLate),
      share: fmt.pct(shareLate), mode: fmt.int(mode?.days ?? 0),
    })
    : t('answers.desc_empty', { area: name });

  const histogram = chart({
    id: 'answer-days',
    title: `${t('answers.chart')}: ${name}`,
    description,
    option: {
      color: PALETTE,
      tooltip: { trigger: 'axis' },
      grid: { left: 48, right: 24, top: 48, bottom: 48 },
      xAxis: { type: 'category', name: t('answers.days'), nameLocation: 'middle', nameGap: 30, data: categories },
      yAxis: { type: 'value', minInterval: 1, name: t('answers.count') },
      series: [{
        name: t('answers.count'),
        type: 'bar',
        data: categories.map((d) => ({
          value: counts.get(d) ?? 0,
          itemStyle: { color: d > DEADLINE_CALENDAR_DAYS_MIN ? PALETTE[3] : PALETTE[0] },
        })),
        markLine: {
          symbol: 'none',
          label: { formatter: t('answers.deadline'), position: 'end' },
          lineStyle: { color: PALETTE[3], type: 'dashed', width: 2 },
          data: [{ xAxis: String(DEADLINE_CALENDAR_DAYS_MIN) }],
        },
      }],
    },
  });

  const element = h('div', { class: 'view view-answers' },
    h('h1', { tabindex: -1 }, t('answers.title')),
    h('p', { class: 'intro' }, t('answers.intro')),
    h('div', { class: 'controls' },
      select({
        label: t('common.area'), name: 'area', value: area, options: areaOptions(oblasts),
        onchange: (value) => { window.location.hash = withParams(route, { area: value }); },
      })),
    figures([
      { key: 'answered', label: t('answers.answered'), value: days.answered },
      { key: 'answered_late', label: t('answers.late'), value: days.answeredLate },
      { key: 'share_late', label: t('answers.share_late'), value: shareLate, kind: 'pct' },
      {
        key: 'median_days', label: t('answers.median'),
        value: figuresOfArea.medianDaysToAnswer, kind: 'dec',
      },
    ], { id: 'answers' }),
    histogram.element,
    dataTable({
      id: 'answer-days',
      title: t('answers.table'),
      csvName: `answer-days-${area || 'UA'}`,
      columns: [
        { key: 'days', label: t('answers.days'), kind: 'int' },
        { key: 'count', label: t('answers.count'), kind: 'int' },
      ],
      rows: buckets,
    }));
  return { element, title: t('answers.title') };
}
