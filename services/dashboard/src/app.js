// The dashboard's shell: loads the API descriptor, renders the header (navigation, language
// switch, live status), routes the URL's hash to a view, and follows the association's
// WatchUpdates stream so figures change without a reload. A view is a function that fetches
// what it shows and returns { element, title, onUpdate? }; on a live update the current view
// gets `onUpdate` at once (the overview's headline figures) and is re-rendered in place at
// most every few seconds, keeping the scroll position and the focused control.

import { Api } from './api.js';
import { DICTIONARIES, LANGUAGES, fmt, language, setLanguage, t } from './i18n.js';
import { href, parseHash, withParams } from './route.js';
import { disposeCharts, h, mountCharts, registerMap } from './ui.js';
import { answers } from './views/answers.js';
import { federation } from './views/federation.js';
import { hromada } from './views/hromada.js';
import { leaderboard } from './views/leaderboard.js';
import { oblast, oblasts } from './views/oblasts.js';
import { overview } from './views/overview.js';
import { practices } from './views/practices.js';
import { receipt } from './views/receipt.js';
import { trends } from './views/trends.js';

const VIEWS = {
  overview, trends, answers, leaderboard, oblasts, oblast, hromada, practices, federation, receipt,
};
/** The navigation's entries, and the view each highlights. */
const NAV = [
  ['overview', 'overview'],
  ['trends', 'trends'],
  ['answers', 'answers'],
  ['leaderboard', 'leaderboard'],
  ['oblasts', 'oblasts', 'oblast', 'hromada'],
  ['practices', 'practices'],
  ['federation', 'federation'],
  ['receipt', 'receipt'],
];
/** The least time between two re-renders of a view on live updates. */
const REFRESH_MIN_MS = 3_000;
/** Reconnecting the live stream: first wait, doubling up to the last. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const LANG_KEY = 'vidkryto.lang';

const main = document.getElementById('main');
const state = {
  api: null,
  route: null,
  view: null,
  /** Bumped by every navigation; a render that finishes under an older number is dropped. */
  seq: 0,
  lastRefresh: 0,
  refreshTimer: null,
  lastEvents: null,
  updates: 0,
};

let outline = null;
/** Ukraine's outline, fetched once and registered with ECharts as the map 'UA'. */
function loadOutline() {
  outline ??= fetch(new URL('./data/ukraine.geo.json', import.meta.url))
    .then((r) => {
      if (!r.ok) throw new Error(`outline: HTTP ${r.status}`);
      return r.json();
    })
    .then((geo) => registerMap('UA', geo));
  return outline;
}

function chosenLanguage(route) {
  const wanted = route.params.get('lang');
  if (LANGUAGES.includes(wanted)) return wanted;
  return 'uk';
}

/** The header, navigation, language switch and footer in the current language. */
function renderShell(route) {
  document.documentElement.lang = language();
  document.getElementById('skip').textContent = t('app.skip');
  document.getElementById('brand').textContent = t('app.brand');
  document.getElementById('subtitle').textContent = t('app.subtitle');
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav.label'));
  nav.replaceChildren(h('ul', {}, NAV.map(([name, ...views]) => h('li', {},
    h('a', {
      href: href(`/${name}`),
      'aria-current': views.includes(route.view) ? 'page' : undefined,
      dataset: { nav: name },
    }, t(`nav.${name}`))))));
  const switcher = document.getElementById('lang');
  switcher.setAttribute('aria-label', t('lang.label'));
  if (!switcher.childElementCount) {
    for (const lang of LANGUAGES) {
      switcher.append(h('button', {
        type: 'button', lang, dataset: { lang },
        onclick: () => {
          try {
            localStorage.setItem(LANG_KEY, lang);
          } catch {
            // storage may be disabled; the link still carries the language
          }
          window.location.hash = withParams(state.route, {}, lang);
        },
      }, DICTIONARIES[lang][`lang.${lang}`]));
    }
  }
  for (const button of switcher.querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === language()));
  }
  document.getElementById('footer').textContent = t('app.footer');
  renderLive();
}

let live = { status: 'connecting', at: null };
function setLive(status, at = live.at) {
  const changed = status !== live.status;
  live = { status, at };
  document.documentElement.dataset.live = status;
  renderLive();
  if (changed) {
    // Announced to screen readers only when the connection changes, not on every update.
    document.getElementById('live-announce').textContent = liveText();
  }
}

function liveText() {
  if (live.status === 'on') return t('live.on', { time: fmt.time(live.at) });
  return t(live.status === 'off' ? 'live.off' : 'live.connecting');
}

function renderLive() {
  const element = document.getElementById('live');
  element.textContent = liveText();
  element.dataset.status = live.status;
}

/** The position of `node` under `root` as child indexes, to find its twin after a re-render. */
function pathOf(node, root) {
  const path = [];
  for (let n = node; n && n !== root; n = n.parentElement) {
    if (!n.parentElement) return null;
    path.unshift(Array.prototype.indexOf.call(n.parentElement.children, n));
  }
  return path;
}

function nodeAt(root, path) {
  let n = root;
  for (const i of path) {
    n = n?.children[i];
  }
  return n;
}

async function renderView(route) {
  const view = VIEWS[route.view];
  if (!view) return null;
  return view({ api: state.api, route, outline: loadOutline });
}

function notFound() {
  return {
    element: h('div', { class: 'view' }, h('h1', { tabindex: -1 }, t('app.not_found')),
      h('p', {}, h('a', { href: href('/overview') }, t('nav.overview')))),
    title: t('app.not_found'),
  };
}

/** Puts a rendered view on the page; `keep` keeps the scroll position and focus. */
function show(result, route, { keep, focusHeading }) {
  const scroll = window.scrollY;
  const active = document.activeElement;
  const focusPath = keep && active && active !== main && main.contains(active) ? pathOf(active, main) : null;
  disposeCharts();
  main.replaceChildren(result.element);
  main.dataset.view = route.view;
  main.setAttribute('aria-busy', 'false');
  mountCharts(main);
  document.title = `${result.title} — ${t('app.title')}`;
  state.view = result;
  if (keep) {
    window.scrollTo(0, scroll);
    if (focusPath) nodeAt(main, focusPath)?.focus({ preventScroll: true });
  } else if (focusHeading) {
    main.querySelector('h1')?.focus();
  }
}

function showError(error, route) {
  disposeCharts();
  state.view = null;
  main.replaceChildren(h('div', { class: 'view view-error', role: 'alert' },
    h('h1', { tabindex: -1 }, t('app.error', { message: error.message })),
    // Without the API (its descriptor did not load) only starting again can help.
    h('button', { type: 'button', onclick: () => (state.api ? navigate({ route, focusHeading: true }) : window.location.reload()) }, t('app.retry'))));
  main.dataset.view = 'error';
  main.setAttribute('aria-busy', 'false');
}

/** Shows the route in the URL (a navigation, a language switch or a changed choice). */
async function navigate({ route = parseHash(window.location.hash), focusHeading = false } = {}) {
  const previous = state.route;
  state.route = route;
  setLanguage(chosenLanguage(route));
  renderShell(route);
  const seq = ++state.seq;
  const samePage = previous && previous.view === route.view && previous.arg === route.arg;
  main.setAttribute('aria-busy', 'true');
  if (!samePage) {
    disposeCharts();
    state.view = null;
    main.replaceChildren(h('p', { class: 'loading' }, t('app.loading')));
  }
  try {
    const result = (await renderView(route)) ?? notFound();
    if (seq !== state.seq) return;
    state.lastRefresh = Date.now();
    show(result, route, { keep: samePage, focusHeading: focusHeading && !samePage });
  } catch (error) {
    if (seq !== state.seq) return;
    console.error(error);
    showError(error, route);
  }
}

/** Re-renders the current view with fresh data (live updates), unless a navigation overtakes it. */
async function refresh() {
  const seq = state.seq;
  // A view that does not follow live updates (a form being filled) stays as it is.
  if (state.view?.still) return;
  const active = document.activeElement;
  if (active && (active.tagName === 'SELECT' || active.tagName === 'INPUT')) {
    // Someone is choosing: do not pull the control from under them; try again shortly.
    scheduleRefresh();
    return;
  }
  state.lastRefresh = Date.now();
  try {
    const result = await renderView(state.route);
    if (seq !== state.seq || !result) return;
    show(result, state.route, { keep: true });
  } catch (error) {
    console.warn('refresh failed', error);
  }
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  const wait = Math.max(0, state.lastRefresh + REFRESH_MIN_MS - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh();
  }, wait);
}

function onUpdate(update) {
  state.updates += 1;
  document.documentElement.dataset.updates = String(state.updates);
  setLive('on', new Date());
  state.view?.onUpdate?.(update);
  const events = update.summary?.eventsVerified ?? null;
  if (state.lastEvents !== null && events !== state.lastEvents) scheduleRefresh();
  state.lastEvents = events;
}

/** Follows WatchUpdates for as long as the page is open, reconnecting with backoff. */
async function follow() {
  let delay = RETRY_MIN_MS;
  for (;;) {
    setLive(live.status === 'on' ? 'off' : live.status);
    try {
      await state.api.watchUpdates((update) => {
        delay = RETRY_MIN_MS;
        onUpdate(update);
      });
    } catch (error) {
      console.warn('live updates stopped', error);
    }
    setLive('off');
    await new Promise((resolve) => { setTimeout(resolve, delay); });
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
}

async function start() {
  document.getElementById('skip').addEventListener('click', (event) => {
    // The hash is the route: move focus without touching it.
    event.preventDefault();
    main.focus();
  });
  // A link without a language opens in the one chosen last on this browser.
  const route = parseHash(window.location.hash);
  if (!route.params.get('lang')) {
    let stored = null;
    try {
      stored = localStorage.getItem(LANG_KEY);
    } catch {
      // storage may be disabled
    }
    if (stored && stored !== 'uk' && LANGUAGES.includes(stored)) {
      window.history.replaceState(null, '', withParams(route, {}, stored));
    }
  }
  setLanguage(chosenLanguage(parseHash(window.location.hash)));
  renderShell(parseHash(window.location.hash));
  try {
    state.api = await Api.load('/api/descriptor.binpb');
  } catch (error) {
    showError(error, parseHash(window.location.hash));
    return;
  }
  window.addEventListener('hashchange', () => navigate({ focusHeading: true }));
  await navigate();
  follow();
}

start();
