// Client-side routes in the URL's hash, so every view (with its choices, and the language) has
// a link to share: `#/<view>[/<argument>][?name=value&…]`, e.g. `#/hromada/UA05020030000031457`,
// `#/leaderboard?metric=share_answered_on_time&lang=en`.

import { language } from './i18n.js';

/** The route in `hash`: { view, arg, params }. */
export function parseHash(hash) {
  const text = hash.replace(/^#/, '');
  const [path, query = ''] = text.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] ?? 'overview', arg: parts[1] ?? '', params: new URLSearchParams(query) };
}

/**
 * A link to `path` (`/view[/arg]`) with `params` (empty values left out) and the current
 * language when it is not the default.
 */
export function href(path, params = {}, lang = language()) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  if (lang !== 'uk') query.set('lang', lang);
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** The current route with some parameters changed. */
export function withParams(route, changes, lang = language()) {
  const params = Object.fromEntries(route.params);
  delete params.lang;
  const path = `/${route.view}${route.arg ? `/${encodeURIComponent(route.arg)}` : ''}`;
  return href(path, { ...params, ...changes }, lang);
}
