// «Практики»: the national catalogue of what hromadas did (published petitions with their
// answers, dialogues with their outcome reports, OGP commitments with their values and
// assessment), searched in Ukrainian (inflected forms match: the association stems), filtered
// by oblast, tool, status and OGP value, recommended ones marked with the association's
// reason. Each result links to its hromada and says where its receipt comes from (the event's
// sequence number and the cosigned checkpoint covering it). The search is in the link, so a
// search can be shared; "more" appends the next page.

import { fmt, nameOf, t, tOr } from '../i18n.js';
import { href, withParams } from '../route.js';
import { checkbox, h, select } from '../ui.js';
import { oblastTitle } from './common.js';

const TOOLS = ['petition', 'dialogue', 'commitment', 'budget_project'];
const STATUSES = ['collecting', 'threshold_reached', 'collection_failed', 'under_consideration',
  'answered', 'open', 'closed', 'outcome_published', 'in_progress', 'assessed', 'on_ballot',
  'won', 'not_won', 'funded', 'completed', 'cancelled'];
const VALUES = ['access_to_information', 'civic_participation', 'public_accountability',
  'technology_and_innovation'];
const PAGE = 20;

/** The request the route's parameters describe. */
function requestOf(params) {
  const pick = (name, allowed) => (allowed.includes(params.get(name)) ? params.get(name) : '');
  return {
    query: (params.get('q') ?? '').slice(0, 500),
    tool: pick('tool', TOOLS),
    status: pick('status', STATUSES),
    ogpValue: pick('value', VALUES),
    oblastCode: params.get('oblast') ?? '',
    recommendedOnly: params.get('rec') === '1',
    pageSize: PAGE,
  };
}

function practice(p) {
  const meta = [
    h('a', { href: href(`/hromada/${p.code}`) }, nameOf(p)),
    ` · ${t(`practices.tool.${p.tool}`)}`,
    ` · ${tOr(`practices.status.${p.status}`, p.status)}`,
    p.startedOn ? ` · ${fmt.date(p.startedOn)}` : '',
  ];
  const details = [];
  if (p.category) details.push(tOr(`dialogue.${p.category}`, p.category));
  if (p.decision) details.push(tOr(`practices.decision.${p.decision}`, tOr(`opened.${p.decision}`, p.decision)));
  if (p.leadInstitution) details.push(p.leadInstitution);
  for (const v of p.ogpValues ?? []) details.push(t(`practices.value.${v}`));
  return h('article', { class: 'practice', dataset: { code: p.code, tool: p.tool, id: p.id } },
    h('h2', {}, p.title || t('practices.untitled')),
    h('p', { class: 'practice-meta' }, meta),
    p.recommendation
      ? h('p', { class: 'flag recommended', dataset: { recommended: '1' } },
        h('strong', {}, t('practices.recommended')), ` ${p.recommendation.reason}`)
      : null,
    details.length ? h('p', { class: 'practice-details' }, details.join(' · ')) : null,
    p.text ? h('p', { class: 'practice-text' }, p.text) : null,
    p.outcome ? h('p', { class: 'practice-outcome' }, h('strong', {}, t(`practices.outcome.${p.tool}`)), ' ', p.outcome) : null,
    h('p', { class: 'note practice-receipt' },
      t('practices.receipt', { seq: fmt.int(p.seq), size: fmt.int(p.checkpointSize) })));
}

export async function practices({ api, route }) {
  const request = requestOf(route.params);
  const [oblasts, first] = await Promise.all([api.oblasts(), api.practices(request)]);
  const go = (changes) => { window.location.hash = withParams(route, changes); };

  const input = h('input', {
    type: 'search', id: 'practice-query', name: 'q', value: request.query, maxlength: 500,
    'aria-describedby': 'practice-help',
  });
  const form = h('form', { class: 'practice-search', role: 'search', id: 'practice-form' },
    h('div', { class: 'control' },
      h('label', { for: 'practice-query' }, t('practices.query')),
      input,
      h('p', { class: 'note', id: 'practice-help' }, t('practices.help'))),
    h('button', { type: 'submit', id: 'practice-submit' }, t('practices.search')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ q: input.value.trim() });
  });

  const list = h('div', { class: 'practice-list', id: 'practice-list' });
  const count = h('p', { id: 'practice-count', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'practice-more' }, t('practices.more'));
  let token = first.nextPageToken;
  const show = (page) => {
    list.append(...page.practices.map(practice));
    token = page.nextPageToken;
    more.hidden = !token;
  };
  count.textContent = first.totalSize === 0
    ? t('practices.none')
    : t(first.totalSizeCapped ? 'practices.count_capped' : 'practices.count', { n: fmt.int(first.totalSize) });
  count.dataset.total = String(first.totalSize);
  show(first);
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      show(await api.practices({ ...request, pageToken: token }));
    } finally {
      more.disabled = false;
    }
  });

  const element = h('div', { class: 'view view-practices' },
    h('h1', { tabindex: -1 }, t('practices.title')),
    h('p', { class: 'intro' }, t('practices.intro')),
    form,
    h('div', { class: 'controls' },
      select({
        label: t('practices.oblast'), name: 'oblast', value: request.oblastCode,
        options: [['', t('leaderboard.all_oblasts')], ...oblasts.map((o) => [o.code, oblastTitle(o)])],
        onchange: (v) => go({ oblast: v }),
      }),
      select({
        label: t('practices.tool_label'), name: 'tool', value: request.tool,
        options: [['', t('practices.any')], ...TOOLS.map((x) => [x, t(`practices.tool.${x}`)])],
        onchange: (v) => go({ tool: v }),
      }),
      select({
        label: t('practices.status_label'), name: 'status', value: request.status,
        options: [['', t('practices.any')], ...STATUSES.map((x) => [x, t(`practices.status.${x}`)])],
        onchange: (v) => go({ status: v }),
      }),
      select({
        label: t('practices.value_label'), name: 'value', value: request.ogpValue,
        options: [['', t('practices.any')], ...VALUES.map((x) => [x, t(`practices.value.${x}`)])],
        onchange: (v) => go({ value: v }),
      }),
      checkbox({
        label: t('practices.recommended_only'), name: 'rec', checked: request.recommendedOnly,
        onchange: (v) => go({ rec: v ? '1' : '' }),
      })),
    count, list, more);
  // A re-render on live updates would clear what the reader typed and the pages loaded.
  return { element, title: t('practices.title'), still: true };
}
