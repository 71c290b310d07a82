// Building blocks of the pages: elements without innerHTML (text from the API never becomes
// markup), tables with headers and a CSV button, labelled form controls, headline figures,
// and charts that carry a text description.

import * as echarts from './vendor/echarts.esm.min.mjs';
import localeUk from './vendor/echarts-lang-uk.mjs';
import { download, toCsv } from './csv.js';
import { fmt, language, t } from './i18n.js';

echarts.registerLocale('UK', localeUk);

/** h('a', { href: '#/', class: 'x' }, 'text', child…): an element. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let nextId = 0;
/** A fresh element id with a readable prefix. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * Column kinds: how a value shows in a table and how it goes into CSV.
 *   int   an integer count                 table: grouped digits    CSV: the integer
 *   dec   a rate (or absent)               table: 2 decimals        CSV: 4 decimals
 *   pct   a share in [0, 1]                table: percent           CSV: percent, 2 decimals
 *   text  text                             as it is
 *   date  yyyy-mm-dd                       table: localised         CSV: as it is
 *   micros microseconds since the epoch    table: Kyiv time         CSV: ISO 8601 UTC
 */
const cellClass = (kind) => (kind.numeric ? 'num' : kind.nowrap ? 'nowrap' : undefined);
const KINDS = {
  int: { show: (v) => fmt.int(v), csv: (v) => String(v ?? 0), numeric: true },
  dec: {
    show: (v) => (v == null ? t('common.none') : fmt.dec(v, 2)),
    csv: (v) => (v == null ? '' : v.toFixed(4)),
    numeric: true,
  },
  pct: { show: (v) => fmt.pct(v), csv: (v) => ((v ?? 0) * 100).toFixed(2), numeric: true, csvSuffix: ' (%)' },
  text: { show: (v) => v ?? '', csv: (v) => v ?? '' },
  date: { show: (v) => fmt.date(v), csv: (v) => v ?? '', nowrap: true },
  micros: {
    show: (v) => fmt.micros(v),
    csv: (v) => (v ? new Date(v / 1000).toISOString() : ''),
    nowrap: true,
  },
};

/**
 * A table with a caption, column headers, a row header per row and a CSV download of exactly
 * its rows. `columns`: [{ key, label, kind = 'text', link?: (row) => href, value?: (row) => v }].
 */
export function dataTable({ id, title, columns, rows, csvName, note }) {
  const headingId = uid(`${id}-title`);
  const valueOf = (column, row) => (column.value ? column.value(row) : row[column.key]);
  const header = h('tr', {}, columns.map((c) => h('th', {
    scope: 'col', class: cellClass(KINDS[c.kind ?? 'text']),
  }, c.label)));
  const body = h('tbody', {}, rows.length === 0
    ? h('tr', {}, h('td', { colspan: columns.length }, t('table.empty')))
    : rows.map((row) => h('tr', {}, columns.map((c, i) => {
      const kind = KINDS[c.kind ?? 'text'];
      const value = valueOf(c, row);
      const shown = kind.show(value);
      const content = c.link && c.link(row) ? h('a', { href: c.link(row) }, shown) : shown;
      return h(i === 0 ? 'th' : 'td', {
        scope: i === 0 ? 'row' : undefined,
        class: cellClass(kind),
      }, content);
    }))));
  const csv = () => {
    const head = columns.map((c) => c.label + (KINDS[c.kind ?? 'text'].csvSuffix ?? ''));
    const lines = rows.map((row) => columns.map((c) => KINDS[c.kind ?? 'text'].csv(valueOf(c, row))));
    download(`${csvName}.csv`, toCsv(head, lines));
  };
  return h('section', { class: 'table-block', 'aria-labelledby': headingId, dataset: { table: id } },
    h('div', { class: 'table-head' },
      h('h2', { id: headingId }, title),
      h('button', {
        type: 'button', class: 'csv', onclick: csv, dataset: { csv: id },
        'aria-label': t('csv.download_named', { name: title }),
      }, t('csv.download'))),
    note ? h('p', { class: 'note' }, note) : null,
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('table.scroll', { name: title }) },
      h('table', {}, h('caption', { class: 'sr-only' }, title), h('thead', {}, header), body)));
}

/** A labelled <select>; `onchange` gets the chosen value. */
export function select({ label, value, options, onchange, name }) {
  const id = uid(name ?? 'select');
  return h('div', { class: 'control' },
    h('label', { for: id }, label),
    h('select', { id, name, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value) }, text))));
}

/** A labelled checkbox. */
export function checkbox({ label, checked, onchange, name }) {
  const id = uid(name ?? 'check');
  return h('div', { class: 'control control-check' },
    h('input', { type: 'checkbox', id, name, checked, onchange: (e) => onchange(e.target.checked) }),
    h('label', { for: id }, label));
}

/**
 * Headline figures as a description list; each carries its raw value in `data-value` so live
 * updates and tests can read it. items: [{ key, label, value, kind = 'int', sub? }]
 */
export function figures(items, { id = 'figures' } = {}) {
  return h('dl', { class: 'figures', dataset: { figures: id } }, items.map((item) => {
    const kind = KINDS[item.kind ?? 'int'];
    return h('div', { class: 'figure', dataset: { figure: item.key, value: String(item.value ?? '') } },
      h('dt', {}, item.label),
      h('dd', {}, h('span', { class: 'value' }, kind.show(item.value)),
        item.sub ? h('span', { class: 'sub' }, item.sub) : null));
  }));
}

/** Updates figures rendered by `figures` in place (no re-render, focus stays). */
export function updateFigures(root, values) {
  for (const element of root.querySelectorAll('[data-figure]')) {
    const key = element.dataset.figure;
    if (!(key in values)) continue;
    const { value, kind = 'int', sub } = values[key];
    if (element.dataset.value === String(value ?? '') && sub === undefined) continue;
    element.dataset.value = String(value ?? '');
    element.querySelector('.value').textContent = KINDS[kind].show(value);
    if (sub !== undefined) {
      const span = element.querySelector('.sub');
      if (span) span.textContent = sub;
    }
  }
}

/** Drawn charts, disposed when the page they are on is replaced. */
const charts = new Set();
/** How to draw each chart element not drawn yet (ECharts needs the element's size, so a chart
 * is drawn once its page is in the document). */
const drawers = new WeakMap();
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    // A chart taken out of the page has no size: leave it be until it is disposed.
    if (!entry.target.isConnected || entry.contentRect.width === 0) continue;
    echarts.getInstanceByDom(entry.target)?.resize();
  }
});

/**
 * A chart: a figure with an ECharts canvas (role img, its description as the accessible name)
 * and the same description as a visible caption. It is drawn by `mountCharts()` once the page
 * is in the document. Returns { element, onReady }.
 */
export function chart({ id, title, option, description, height = 360 }) {
  const headingId = uid(`${id}-title`);
  const captionId = uid(`${id}-desc`);
  const canvas = h('div', {
    class: 'chart', role: 'img', 'aria-label': `${title}. ${description}`,
    'aria-describedby': captionId, style: `height:${height}px`, dataset: { chart: id },
  });
  const caption = h('figcaption', { id: captionId, class: 'chart-desc' }, description);
  const element = h('figure', { class: 'chart-block', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, title), canvas, caption);
  const handle = {
    element,
    /** Called with ECharts' instance once drawn (e.g. to add click handlers). */
    onReady: null,
  };
  drawers.set(canvas, () => {
    const instance = echarts.init(canvas, null, {
      renderer: 'canvas', locale: language() === 'uk' ? 'UK' : 'EN',
    });
    instance.setOption({ animation: false, aria: { enabled: false }, ...option });
    charts.add(instance);
    resizer.observe(canvas);
    handle.onReady?.(instance);
  });
  return handle;
}

/** Draws the charts inside `root` (now in the document) that are not drawn yet. */
export function mountCharts(root) {
  for (const canvas of root.querySelectorAll('[data-chart]')) {
    const draw = drawers.get(canvas);
    drawers.delete(canvas);
    draw?.();
  }
}

/** Disposes the drawn charts (the page they were on is being replaced). */
export function disposeCharts() {
  for (const instance of charts) {
    resizer.unobserve(instance.getDom());
    instance.dispose();
  }
  charts.clear();
}

/**
 * A horizontal bar chart's option: one bar per label, values at the bars' ends.
 * bars: [{ label, value, colour? }]; `show` formats a value; `max` bounds the axis.
 */
export function barsOption({ bars, name, show = String, max, integer = false }) {
  return {
    color: PALETTE,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
    xAxis: { type: 'value', max, minInterval: integer ? 1 : undefined },
    yAxis: { type: 'category', inverse: true, data: bars.map((b) => b.label) },
    series: [{
      type: 'bar',
      name,
      data: bars.map((b) => (b.colour ? { value: b.value, itemStyle: { color: b.colour } } : b.value)),
      label: { show: true, position: 'right', formatter: (p) => show(p.value) },
    }],
  };
}

/** The height that fits `count` bars. */
export const barsHeight = (count) => Math.max(200, 28 * count + 60);

/** ECharts' map registry, for the outline of Ukraine. */
export function registerMap(name, geoJson) {
  echarts.registerMap(name, geoJson);
}

/** Common chart pieces. */
export const PALETTE = ['#0057b7', '#d98e04', '#2a9d5c', '#b3261e', '#6f4bb2', '#4a7f99'];
