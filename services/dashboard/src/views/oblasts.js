// The oblast table (with a chart of petitions per 10,000 residents) and, one level down, an
// oblast's hromadas, each linking to its hromada page.

import { fmt, t } from '../i18n.js';
import { href, withParams } from '../route.js';
import { barsHeight, barsOption, checkbox, chart, dataTable, figures, h } from '../ui.js';
import { areaFigureItems, hromadaTitle, oblastTitle } from './common.js';

/** Columns of figures shared by the oblast and hromada tables. */
function figureColumns() {
  return [
    { key: 'population', label: t('common.population'), kind: 'int', value: (r) => r.figures.population },
    { key: 'petitions_filed', label: t('figure.petitions_filed'), kind: 'int', value: (r) => r.figures.petitionsFiled },
    { key: 'petitions_per_10k', label: t('figure.petitions_per_10k'), kind: 'dec', value: (r) => r.figures.petitionsPer10k },
    { key: 'signatures', label: t('figure.signatures'), kind: 'int', value: (r) => r.figures.signatures },
    { key: 'petitions_answered', label: t('figure.petitions_answered'), kind: 'int', value: (r) => r.figures.petitionsAnswered },
    { key: 'share_answered_on_time', label: t('figure.share_answered_on_time'), kind: 'pct', value: (r) => r.figures.shareAnsweredOnTime },
    { key: 'dialogues_closed', label: t('figure.dialogues_closed'), kind: 'int', value: (r) => r.figures.dialoguesClosed },
    { key: 'milestones', label: t('figure.milestones'), kind: 'int', value: (r) => r.figures.milestones },
    {
      key: 'share_milestones', label: t('figure.share_milestones_substantial_or_complete'), kind: 'pct',
      value: (r) => r.figures.shareMilestonesSubstantialOrComplete,
    },
  ];
}

export async function oblasts({ api }) {
  const list = await api.oblasts();
  const withData = list.filter((o) => o.municipalitiesReporting > 0)
    .sort((a, b) => b.figures.petitionsPer10k - a.figures.petitionsPer10k);
  const description = withData.length
    ? t('oblasts.chart_desc', {
      first: oblastTitle(withData[0]), value: fmt.dec(withData[0].figures.petitionsPer10k, 2),
      n: fmt.int(withData.length),
    })
    : t('table.empty');
  const element = h('div', { class: 'view view-oblasts' },
    h('h1', { tabindex: -1 }, t('oblasts.title')),
    chart({
      id: 'oblasts',
      title: t('oblasts.chart'),
      description,
      height: barsHeight(withData.length),
      option: barsOption({
        bars: withData.map((o) => ({ label: oblastTitle(o), value: o.figures.petitionsPer10k })),
        name: t('figure.petitions_per_10k'),
        show: (v) => fmt.dec(v, 2),
      }),
    }).element,
    dataTable({
      id: 'oblasts',
      title: t('oblasts.table'),
      csvName: 'oblasts',
      columns: [
        { key: 'name', label: t('common.oblast'), value: oblastTitle, link: (o) => href(`/oblast/${o.code}`) },
        { key: 'code', label: t('common.code') },
        { key: 'municipalities', label: t('oblasts.municipalities'), kind: 'int' },
        { key: 'municipalitiesReporting', label: t('oblasts.reporting'), kind: 'int' },
        ...figureColumns(),
      ],
      rows: list,
    }));
  return { element, title: t('oblasts.title') };
}

export async function oblast({ api, route }) {
  const code = route.arg;
  const enrolledOnly = route.params.get('enrolled') === '1';
  const [list, hromadas] = await Promise.all([
    api.oblasts(), api.municipalities({ oblast: code, enrolledOnly, orderBy: 'name' }),
  ]);
  const found = list.find((o) => o.code === code);
  if (!found) return null;
  const title = oblastTitle(found);
  const element = h('div', { class: 'view view-oblast' },
    h('p', { class: 'breadcrumb' }, h('a', { href: href('/oblasts') }, t('oblast.back'))),
    h('h1', { tabindex: -1 }, title),
    h('section', { 'aria-label': t('hromada.figures') },
      figures(areaFigureItems(found.figures), { id: 'oblast' })),
    h('div', { class: 'controls' },
      checkbox({
        label: t('oblast.enrolled_only'), name: 'enrolled', checked: enrolledOnly,
        onchange: (on) => { window.location.hash = withParams(route, { enrolled: on ? '1' : '' }); },
      })),
    dataTable({
      id: 'hromadas',
      title: t('oblast.table'),
      csvName: `hromadas-${code}`,
      columns: [
        { key: 'name', label: t('common.hromada'), value: (m) => hromadaTitle(m), link: (m) => href(`/hromada/${m.code}`) },
        { key: 'code', label: t('common.code') },
        { key: 'enrolled', label: t('common.enrolled'), value: (m) => (m.enrolled ? t('common.yes') : t('common.no')) },
        { key: 'verified', label: t('federation.verified_size'), kind: 'int', value: (m) => m.provenance?.verifiedSize ?? 0 },
        ...figureColumns(),
      ],
      rows: hromadas,
    }));
  return { element, title };
}
