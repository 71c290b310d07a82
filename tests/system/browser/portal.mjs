// The hromada's portal in Debian's headless Chromium, driven by playwright-core as a resident
// uses it: the list of petitions, a petition, signing in at the hromada's identity provider
// and signing, all by keyboard, at phone width; axe-core checks each view, and the page must
// break no rule of its Content-Security-Policy. tests/system/tests/portal.rs starts the node
// and the provider and runs this; it prints `step …` lines, then `PASS` or `FAIL <why>`.
//
//   PORTAL_URL=http://127.0.0.1:port CHROMIUM=/usr/bin/chromium SCREENSHOTS=dir \
//   TITLE='…' LOGIN=halyna node portal.mjs

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(new URL('../../../services/portal/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const base = process.env.PORTAL_URL;
const shots = process.env.SCREENSHOTS;
const title = process.env.TITLE;
const login = process.env.LOGIN;
const TIMEOUT_MS = 20_000;
const TABS_MAX = 30;

const step = (what) => console.log(`step ${what}`);

async function ready(page) {
  await page.waitForSelector('main[aria-busy="false"]', { timeout: TIMEOUT_MS });
}

/** axe-core's WCAG 2 A and AA violations on the page as it is. */
async function axeViolations(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'] });
    return result.violations.map((v) => `${v.id} (${v.nodes.length}): ${v.help}`);
  });
}

/** Presses Tab until the focused element matches `test`; fails after TABS_MAX presses. */
async function tabTo(page, what, test, arg) {
  for (let i = 0; i < TABS_MAX; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(test, arg)) return;
  }
  throw new Error(`${what} is not reachable by keyboard`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function run() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], timeout: TIMEOUT_MS });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'uk-UA', timezoneId: 'Europe/Kyiv' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  try {
    step('list');
    await page.goto(`${base}/`, { timeout: TIMEOUT_MS });
    await ready(page);
    await page.getByRole('link', { name: title }).waitFor({ timeout: TIMEOUT_MS });
    if (await page.evaluate(() => document.documentElement.lang) !== 'uk') throw new Error('the page is not Ukrainian first');
    await shot(page, 'portal-list');
    let violations = await axeViolations(page);
    if (violations.length) throw new Error(`axe on the list: ${violations.join('; ')}`);

    step('petition by keyboard');
    await tabTo(page, 'the petition', (t) => document.activeElement?.textContent === t, title);
    await page.keyboard.press('Enter');
    await ready(page);
    await page.getByRole('heading', { level: 1, name: title }).waitFor({ timeout: TIMEOUT_MS });
    await shot(page, 'portal-petition');
    violations = await axeViolations(page);
    if (violations.length) throw new Error(`axe on the petition: ${violations.join('; ')}`);

    step('sign in');
    await tabTo(page, 'the sign-in link', () => document.activeElement?.getAttribute('href')?.startsWith('/auth/sign-in'));
    await page.keyboard.press('Enter');
    await page.waitForSelector('#login', { timeout: TIMEOUT_MS });
    await shot(page, 'portal-provider');
    await page.fill('#login', login);
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.href.startsWith(base) && url.hash.startsWith('#/petition/'), { timeout: TIMEOUT_MS });
    await ready(page);

    step('sign');
    await tabTo(page, 'the sign button', () => document.activeElement?.id === 'sign');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signed', { timeout: TIMEOUT_MS });
    const signed = await page.textContent('#signed');
    if (!/№ \d+/.test(signed)) throw new Error(`the signature's receipt line says ${signed}`);
    const counted = await page.textContent('main');
    if (!counted.includes('Підписів: 1 з 100')) throw new Error(`the page does not count the signature: ${counted}`);
    await shot(page, 'portal-signed');

    step('english');
    await page.click('#lang');
    await ready(page);
    await page.getByRole('heading', { level: 1, name: title }).waitFor({ timeout: TIMEOUT_MS });
    const back = await page.textContent('main a[href="#/"]');
    if (!back.includes('All petitions')) throw new Error(`the English page says ${back}`);
    // The node tells the resident they have signed: no second signature is offered.
    await page.waitForSelector('#already', { timeout: TIMEOUT_MS });
    if (await page.$('#sign')) throw new Error('a second signature is offered');
    await shot(page, 'portal-english');

    const csp = await page.evaluate(() => window.__cspViolations);
    if (csp.length) throw new Error(`CSP violations: ${csp.join('; ')}`);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(`PASS ${JSON.stringify({ signed })}`);
  } catch (e) {
    await shot(page, 'portal-failure').catch(() => {});
    console.log(`FAIL ${e.message.split('\n')[0]} (page errors: ${errors.join('; ') || 'none'})`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await run();
