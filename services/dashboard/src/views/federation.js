// Federation health: which nodes report, how far behind they are, their status, the newest
// quarantine records and every fork seen.

import { fmt, nameOf, t, tOr } from '../i18n.js';
import { href, withParams } from '../route.js';
import { PALETTE, barsOption, chart, dataTable, figures, h, select } from '../ui.js';

/** Quarantine records shown (the newest). */
export const QUARANTINE_SHOWN = 100;
const STATUSES = [
  'NODE_STATUS_HEALTHY', 'NODE_STATUS_LAGGING', 'NODE_STATUS_WAITING', 'NODE_STATUS_QUARANTINE',
  'NODE_STATUS_FORKED', 'NODE_STATUS_REVOKED',
];
const STATUS_COLOURS = {
  NODE_STATUS_HEALTHY: PALETTE[2],
  NODE_STATUS_LAGGING: PALETTE[1],
  NODE_STATUS_WAITING: '#9a9a9a',
  NODE_STATUS_QUARANTINE: PALETTE[3],
  NODE_STATUS_FORKED: '#7a0019',
  NODE_STATUS_REVOKED: '#444444',
};

export async function federation({ api, route }) {
  const wanted = STATUSES.includes(route.params.get('status')) ? route.params.get('status') : '';
  const [nodes, quarantine, forks] = await Promise.all([
    api.nodes(), api.quarantine(QUARANTINE_SHOWN), api.forks(),
  ]);
  const statusText = (s) => tOr(`node.${s}`, s);
  const counts = STATUSES.map((s) => [s, nodes.filter((n) => n.status === s).length]);
  const now = Date.now() * 1000;
  const shown = wanted ? nodes.filter((n) => n.status === wanted) : nodes;
  const description = t('federation.chart_desc', {
    list: counts.map(([s, n]) => `${statusText(s)} ${fmt.int(n)}`).join(', '),
  });

  const element = h('div', { class: 'view view-federation' },
    h('h1', { tabindex: -1 }, t('federation.title')),
    figures([
      { key: 'nodes_enrolled', label: t('federation.enrolled'), value: nodes.length },
      { key: 'nodes_reporting', label: t('federation.reporting'), value: nodes.filter((n) => n.verifiedSize > 0).length },
      { key: 'lag_events', label: t('federation.lagging_events'), value: nodes.reduce((s, n) => s + n.lagEvents, 0) },
      { key: 'quarantined', label: t('federation.quarantined'), value: nodes.reduce((s, n) => s + n.quarantined, 0) },
      { key: 'forks', label: t('federation.forks'), value: forks.length },
    ], { id: 'federation' }),
    chart({
      id: 'node-status',
      title: t('federation.chart'),
      description,
      height: 260,
      option: barsOption({
        bars: counts.map(([s, n]) => ({ label: statusText(s), value: n, colour: STATUS_COLOURS[s] })),
        name: t('federation.nodes'),
        show: (v) => fmt.int(v),
        integer: true,
      }),
    }).element,
    h('div', { class: 'controls' },
      select({
        label: t('federation.status_filter'), name: 'status', value: wanted,
        options: [['', t('federation.all_statuses')], ...STATUSES.map((s) => [s, statusText(s)])],
        onchange: (v) => { window.location.hash = withParams(route, { status: v }); },
      })),
    dataTable({
      id: 'nodes',
      title: t('federation.nodes'),
      csvName: 'nodes',
      columns: [
        { key: 'name', label: t('common.hromada'), value: (n) => nameOf(n), link: (n) => href(`/hromada/${n.code}`) },
        { key: 'code', label: t('common.code') },
        { key: 'status', label: t('federation.status'), value: (n) => statusText(n.status) },
        { key: 'verifiedSize', label: t('federation.verified_size'), kind: 'int' },
        { key: 'receivedSeq', label: t('federation.received_seq'), kind: 'int' },
        { key: 'lagEvents', label: t('federation.lag'), kind: 'int' },
        { key: 'checkpointSize', label: t('federation.checkpoint'), kind: 'int' },
        { key: 'verifiedAtMicros', label: t('federation.verified_at'), kind: 'micros' },
        {
          key: 'age', label: t('federation.age'), value: (n) => (n.verifiedAtMicros ? fmt.ago((now - n.verifiedAtMicros) / 1e6) : t('common.never')),
        },
        { key: 'quarantined', label: t('federation.quarantined'), kind: 'int' },
        { key: 'forks', label: t('federation.forks'), kind: 'int' },
      ],
      rows: shown,
    }),
    dataTable({
      id: 'quarantine',
      title: t('federation.quarantine_table'),
      csvName: 'quarantine',
      columns: [
        { key: 'receivedAtMicros', label: t('federation.received_at'), kind: 'micros' },
        { key: 'code', label: t('common.code') },
        { key: 'subject', label: t('federation.subject') },
        { key: 'seq', label: t('federation.seq'), kind: 'int' },
        { key: 'reason', label: t('federation.reason') },
        { key: 'detail', label: t('federation.detail') },
      ],
      rows: quarantine,
    }),
    dataTable({
      id: 'forks',
      title: t('federation.forks_table'),
      csvName: 'forks',
      columns: [
        { key: 'code', label: t('common.code'), link: (f) => href(`/hromada/${f.code}`) },
        { key: 'size', label: t('federation.size'), kind: 'int' },
        { key: 'acceptedRoot', label: t('federation.accepted_root') },
        { key: 'otherRoot', label: t('federation.other_root') },
        { key: 'detectedAtMicros', label: t('federation.detected_at'), kind: 'micros' },
      ],
      rows: forks,
    }));
  return { element, title: t('federation.title') };
}
