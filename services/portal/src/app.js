// The hromada's portal, on the node's own origin: residents' petitions (search, filters, one
// petition with its statute and answer, signing with a receipt checked in the browser, filing),
// public dialogues, the OGP Local action plan, participatory budgets (proposing, voting with a
// receipt), checking a kept receipt, and the council staff's
// console by role (officials also run dialogues on their pages, the coordinator reports
// progress on the plan's). Routes live in the URL's
// hash; a reply to a navigation the person has already left is dropped.

import { connect, reason, session } from './api.js';
import { el, main, show } from './dom.js';
import { lang, t } from './i18n.js';
import { budgetsView, roundView } from './budgets.js';
import { dialogueView, dialoguesView } from './dialogues.js';
import { listView, newPetitionView, petitionView } from './petitions.js';
import { planView, plansView } from './plans.js';
import { receiptPage } from './receipts.js';
import { staffView } from './staff.js';

function header(who) {
  const box = document.getElementById('who');
  if (who.signed_in) {
    const form = el('form', { method: 'post', action: '/auth/sign-out' }, el('button', { type: 'submit', class: 'secondary' }, t('signOut')));
    box.replaceChildren(el('span', {}, `${t('signedInAs')} `), form);
  } else {
    box.replaceChildren();
  }
  const nav = document.getElementById('nav');
  const links = [['#/', 'petitions'], ['#/dialogues', 'dialogues'], ['#/plans', 'plans'], ['#/budgets', 'budgets'], ['#/receipt', 'receipt']];
  if (who.signed_in && (who.roles ?? []).length) links.push(['#/staff', 'staff']);
  nav.replaceChildren(...links.map(([href, key]) => el('a', { href, 'data-route': key }, t('nav')[key])));
  const other = lang() === 'en' ? 'uk' : 'en';
  const switcher = document.getElementById('lang');
  switcher.textContent = other === 'en' ? 'English' : 'Українська';
  switcher.setAttribute('lang', other);
  languageLink();
  document.documentElement.lang = lang();
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  document.title = t('title');
}

/** The language switch leads to this same page in the other language. */
function languageLink() {
  const other = lang() === 'en' ? 'uk' : 'en';
  document.getElementById('lang').href = `?lang=${other}${location.hash}`;
}

/** Marks the navigation link of the current page. */
function markCurrent(route) {
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.route === route) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

const ID = '([0-9a-f-]{36})';
/** Each page: its address, the section of the navigation it is in, and its view (given the id). */
const ROUTES = [
  [new RegExp(`^#/petition/${ID}$`), 'petitions', (ctx, isCurrent, id) => petitionView(ctx, id, isCurrent)],
  [/^#\/new$/, 'petitions', (ctx) => newPetitionView(ctx)],
  [/^#\/dialogues$/, 'dialogues', dialoguesView],
  [new RegExp(`^#/dialogue/${ID}$`), 'dialogues', (ctx, isCurrent, id) => dialogueView(ctx, id, isCurrent)],
  [/^#\/plans$/, 'plans', plansView],
  [new RegExp(`^#/plan/${ID}$`), 'plans', (ctx, isCurrent, id) => planView(ctx, id, isCurrent)],
  [/^#\/budgets$/, 'budgets', budgetsView],
  [new RegExp(`^#/budget/${ID}$`), 'budgets', (ctx, isCurrent, id) => roundView(ctx, id, isCurrent)],
  [/^#\/receipt$/, 'receipt', (ctx) => receiptPage(ctx.audit)],
  [/^#\/staff$/, 'staff', staffView],
];

/** The navigation in progress: a reply to an earlier one is dropped. */
let navigation = 0;

async function route(ctx) {
  navigation += 1;
  const mine = navigation;
  const isCurrent = () => mine === navigation;
  main.setAttribute('aria-busy', 'true');
  languageLink();
  const hash = location.hash.split('?')[0];
  try {
    const found = ROUTES.map(([pattern, section, view]) => ({ match: pattern.exec(hash), section, view }))
      .find((r) => r.match);
    const { section, view, match } = found ?? { section: 'petitions', view: listView, match: [] };
    markCurrent(section);
    await view(ctx, isCurrent, match[1]);
  } catch (e) {
    if (isCurrent()) show(el('p', { class: 'error' }, t('failed')(reason(e))));
  }
  if (isCurrent()) main.focus();
}

async function start() {
  const [api, who] = await Promise.all([connect(), session()]);
  const ctx = { ...api, who };
  header(who);
  window.addEventListener('hashchange', () => route(ctx));
  await route(ctx);
}

start().catch((e) => show(el('p', { class: 'error' }, t('failed')(reason(e)))));
