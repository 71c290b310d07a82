// The dashboard in a real headless Chromium (Debian's, driven by playwright-core, which never
// downloads a browser), against a running association. Run by tests/system/tests/dashboard.rs,
// which starts the federation, passes what the gRPC API answers, and then makes new activity.
//
// Environment:
//   DASHBOARD_URL   the association's base URL (it serves the page and gRPC-Web)
//   CHROMIUM        the browser executable
//   EXPECT          a JSON file: { summary: {figure: value}, leaderboard: [{code, numerator,
//                   denominator}], oblasts: [code], hromada: {code, milestone_dues, checkpoint_size,
//                   verified_size}, enrolled: n }
//   SCREENSHOTS     where to save screenshots
//
// Protocol on stdio: prints `step <name>` as it goes and `READY` once the overview is loaded
// and checked; then reads one line `EXPECT <json>` (the summary after new activity) from stdin
// and waits for the page to show it without a reload. Prints `PASS` and exits 0, or prints
// `FAIL <reason>` and exits 1. Every wait is bounded.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

import { axe } from './axe.mjs';
import { countTransfers } from './transfer.mjs';

const require = createRequire(new URL('../../../services/dashboard/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const PAGE_TIMEOUT_MS = 30_000;
const LIVE_TIMEOUT_MS = 45_000;
const STDIN_TIMEOUT_MS = 120_000;
/** Non-background pixels a drawn chart has at least (a blank canvas has none). */
const CHART_PIXELS_MIN = 500;
/** Keyboard presses allowed to reach the language switch from the top of the page. */
const TABS_MAX = 40;

const base = process.env.DASHBOARD_URL.replace(/\/$/, '');
const expect = JSON.parse(fs.readFileSync(process.env.EXPECT, 'utf8'));
const shots = process.env.SCREENSHOTS;
fs.mkdirSync(shots, { recursive: true });

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}
const step = (name) => console.log(`step ${name}`);

const lines = readline.createInterface({ input: process.stdin });
const incoming = [];
let waiting = null;
lines.on('line', (line) => {
  if (waiting) {
    const resolve = waiting;
    waiting = null;
    resolve(line);
  } else {
    incoming.push(line);
  }
});
function nextLine() {
  if (incoming.length) return Promise.resolve(incoming.shift());
  return new Promise((resolve, reject) => {
    waiting = resolve;
    setTimeout(() => reject(new Failure('no EXPECT line on stdin in time')), STDIN_TIMEOUT_MS);
  });
}

/** Waits until the view is rendered and idle. */
async function viewReady(page, view) {
  await page.waitForSelector(`main[data-view="${view}"][aria-busy="false"]`, { timeout: PAGE_TIMEOUT_MS });
}

async function open(page, hash, view) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await viewReady(page, view);
}

/** Drawn pixels of each chart canvas on the page: { chartId: count }. */
async function chartPixels(page) {
  return page.evaluate(() => {
    const counts = {};
    for (const holder of document.querySelectorAll('[data-chart]')) {
      let drawn = 0;
      for (const canvas of holder.querySelectorAll('canvas')) {
        if (!canvas.width || !canvas.height) continue;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
          if (a > 0 && !(r > 245 && g > 245 && b > 245)) drawn += 1;
        }
      }
      counts[holder.dataset.chart] = drawn;
    }
    return counts;
  });
}

async function chartsDrawn(page, ids) {
  const counts = await chartPixels(page);
  for (const id of ids) {
    check(id in counts, `no chart ${id} on the page (charts: ${Object.keys(counts)})`);
    check(counts[id] >= CHART_PIXELS_MIN, `chart ${id} looks blank: ${counts[id]} drawn pixels`);
  }
  // Every chart says what it shows.
  const unlabelled = await page.$$eval('[data-chart]', (els) => els
    .filter((e) => e.getAttribute('role') !== 'img' || (e.getAttribute('aria-label') ?? '').length < 10)
    .map((e) => e.dataset.chart));
  check(unlabelled.length === 0, `charts without a text description: ${unlabelled}`);
  return counts;
}

/** The headline figures on the page: { key: { value, text } }. */
async function headline(page) {
  return page.$$eval('[data-figures="headline"] [data-figure]', (els) => Object.fromEntries(
    els.map((e) => [e.dataset.figure, { value: e.dataset.value, text: e.querySelector('.value').textContent }]),
  ));
}

function sameFigures(shown, wanted) {
  const problems = [];
  for (const [key, value] of Object.entries(wanted)) {
    const figure = shown[key];
    if (!figure) {
      problems.push(`${key} missing`);
      continue;
    }
    if (Math.abs(Number(figure.value) - value) > 1e-9) {
      problems.push(`${key}: page ${figure.value}, gRPC ${value}`);
    } else if (Number.isInteger(value) && figure.text.replace(/\D/g, '') !== String(value)) {
      problems.push(`${key}: shows "${figure.text}" for ${value}`);
    }
  }
  return problems;
}

/** RFC 4180: fields, quoted fields with doubled quotes, CRLF records. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      check(field === '', `a quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (c === ',') { row.push(field); field = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; i += 1;
    } else {
      check(c !== '\n' && c !== '\r', `a bare line break at ${i}`);
      field += c;
    }
  }
  check(!quoted && field === '' && row.length === 0, 'the CSV does not end with CRLF');
  return rows;
}

/** Clicks a table's CSV button and returns the parsed rows (the BOM checked and removed). */
async function downloadCsv(page, table) {
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: PAGE_TIMEOUT_MS }),
    page.click(`button[data-csv="${table}"]`),
  ]);
  const file = path.join(shots, download.suggestedFilename());
  await download.saveAs(file);
  const bytes = fs.readFileSync(file);
  check(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf, `${table} CSV has no UTF-8 BOM`);
  const rows = parseCsv(bytes.subarray(3).toString('utf8'));
  const width = rows[0].length;
  check(rows.every((r) => r.length === width), `${table} CSV rows differ in width`);
  return { rows, file: download.suggestedFilename() };
}

/** Errors the page reported (uncaught exceptions, console errors). */
const errors = [];

async function run() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    // A container's root user has no sandbox to drop into.
    args: ['--no-sandbox', '--disable-gpu'],
    timeout: PAGE_TIMEOUT_MS,
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'uk-UA', timezoneId: 'Europe/Kyiv',
    });
    const page = await context.newPage();
    // Every Content-Security-Policy violation, whether or not the browser also logs it.
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation',
        (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    step('overview');
    const firstView = countTransfers(page);
    await page.goto(`${base}/`, { timeout: PAGE_TIMEOUT_MS });
    await viewReady(page, 'overview');
    await page.waitForSelector('html[data-live="on"]', { timeout: PAGE_TIMEOUT_MS });
    const transferred = await firstView();
    console.log(`first view transferred ${transferred.bytes} bytes in ${transferred.responses} responses (largest: ${transferred.largest.join(', ')})`);
    check(await page.getAttribute('html', 'lang') === 'uk', 'the page does not start in Ukrainian');
    check((await page.textContent('h1')).trim() === 'Огляд країни', 'the overview heading is not Ukrainian');
    const problems = sameFigures(await headline(page), expect.summary);
    check(problems.length === 0, `headline figures differ from gRPC: ${problems.join('; ')}`);

    step('map');
    const counts = await chartsDrawn(page, ['map']);
    const mapText = await page.getAttribute('[data-chart="map"]', 'aria-label');
    check(mapText.includes(String(expect.enrolled)), `the map's description does not count ${expect.enrolled} hromadas: ${mapText}`);
    // The chosen metric's points are coloured: another metric redraws the map.
    await page.selectOption('select[name="metric"]', 'freshness');
    await page.waitForSelector('[data-chart="map"][aria-label*="Свіжість даних вузла"]', { timeout: PAGE_TIMEOUT_MS });
    check(page.url().includes('metric=freshness'), `the metric is not in the link: ${page.url()}`);
    await viewReady(page, 'overview');
    await chartsDrawn(page, ['map']);
    console.log(`map pixels ${counts.map}`);
    await page.screenshot({ path: path.join(shots, 'overview-uk.png'), fullPage: true });

    step('leaderboard-csv');
    await open(page, '#/leaderboard', 'leaderboard');
    await chartsDrawn(page, ['leaderboard']);
    const board = await downloadCsv(page, 'leaderboard');
    check(board.rows.length === expect.leaderboard.length + 1,
      `leaderboard CSV has ${board.rows.length - 1} rows, gRPC ${expect.leaderboard.length}`);
    check(board.rows[0][2] === 'Код КАТОТТГ', `unexpected CSV header ${board.rows[0]}`);
    expect.leaderboard.forEach((entry, i) => {
      const row = board.rows[i + 1];
      check(row[0] === String(i + 1) && row[2] === entry.code
        && row[4] === String(entry.numerator) && row[5] === String(entry.denominator),
      `leaderboard CSV row ${i + 1} is ${row}, gRPC ${JSON.stringify(entry)}`);
    });
    await page.screenshot({ path: path.join(shots, 'leaderboard.png'), fullPage: true });

    step('oblasts-csv');
    await open(page, '#/oblasts', 'oblasts');
    await chartsDrawn(page, ['oblasts']);
    const oblasts = await downloadCsv(page, 'oblasts');
    check(JSON.stringify(oblasts.rows.slice(1).map((r) => r[1])) === JSON.stringify(expect.oblasts),
      'the oblasts CSV does not list the oblasts gRPC lists');
    await page.screenshot({ path: path.join(shots, 'oblasts.png'), fullPage: true });

    step('views');
    await open(page, '#/trends', 'trends');
    await chartsDrawn(page, ['trends']);
    await page.screenshot({ path: path.join(shots, 'trends.png'), fullPage: true });
    await open(page, '#/answers', 'answers');
    await chartsDrawn(page, ['answer-days']);
    await page.screenshot({ path: path.join(shots, 'answers.png'), fullPage: true });
    await open(page, '#/federation', 'federation');
    await chartsDrawn(page, ['node-status']);
    const nodeRows = await page.$$eval('[data-table="nodes"] tbody tr', (rows) => rows.length);
    check(nodeRows === expect.enrolled, `federation lists ${nodeRows} nodes, ${expect.enrolled} enrolled`);
    await page.screenshot({ path: path.join(shots, 'federation.png'), fullPage: true });

    step('practices');
    await open(page, '#/practices', 'practices');
    await axe(page, 'the practices page');
    // By keyboard: Tab to the search box, type another form of the word, Enter.
    for (let i = 0; i < 40 && await page.evaluate(() => document.activeElement?.id) !== 'practice-query'; i += 1) {
      await page.keyboard.press('Tab');
    }
    check(await page.evaluate(() => document.activeElement?.id) === 'practice-query', 'Tab never reaches the search box');
    await page.keyboard.type(expect.practices.query);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#practice-count[data-total="${expect.practices.total}"]`, { timeout: PAGE_TIMEOUT_MS });
    await viewReady(page, 'practices');
    const found = await page.$$eval('#practice-list article h2', (els) => els.map((e) => e.textContent));
    check(JSON.stringify(found) === JSON.stringify(expect.practices.titles),
      `practices shows ${found.join(' | ')}, gRPC ${expect.practices.titles.join(' | ')}`);
    check(decodeURIComponent(await page.evaluate(() => window.location.hash)).includes(expect.practices.query),
      'the search is not in the link');
    await axe(page, 'the practices found');
    await page.screenshot({ path: path.join(shots, 'practices.png'), fullPage: true });
    // Each result leads to its hromada.
    await page.click(`#practice-list article a[href*="${expect.practices.code}"]`);
    await viewReady(page, 'hromada');

    step('drill-down');
    await open(page, '#/oblasts', 'oblasts');
    await page.click(`a[href^="#/oblast/${expect.hromada.oblast}"]`);
    await viewReady(page, 'oblast');
    await page.click(`a[href^="#/hromada/${expect.hromada.code}"]`);
    await viewReady(page, 'hromada');
    await chartsDrawn(page, ['timeline', 'milestones']);
    const provenance = await page.$eval('.provenance-line', (e) => ({ size: e.dataset.checkpoint, text: e.textContent }));
    check(provenance.size === String(expect.hromada.checkpoint_size),
      `provenance shows checkpoint ${provenance.size}, gRPC ${expect.hromada.checkpoint_size}`);
    check(provenance.text.includes('засвідчено асоціацією'), `provenance does not say cosigned: ${provenance.text}`);
    // Every milestone, in ListMilestones's order: the CSV keeps the ISO due dates.
    const milestoneCsv = await downloadCsv(page, 'milestone-list');
    const dues = milestoneCsv.rows.slice(1).map((r) => r[0]);
    check(JSON.stringify(dues) === JSON.stringify(expect.hromada.milestone_dues),
      `milestone list dues ${dues.join(', ')}, gRPC ${expect.hromada.milestone_dues.join(', ')}`);
    // What the plan opened up, as the hromada assessed it: the same figures as gRPC, and the
    // levels' table (its CSV) with the same counts.
    for (const [key, value] of Object.entries(expect.hromada.openness)) {
      if (key === 'opened_government') continue;
      const shown = await page.getAttribute(`[data-figures="openness"] [data-figure="${key}"]`, 'data-value');
      check(shown === String(value), `openness ${key} shows ${shown}, gRPC ${value}`);
    }
    // Deadlines under the law: the same figures as gRPC, and the statute's flag (its answer
    // term of 30 working days is beyond the law's 10).
    for (const [key, value] of Object.entries(expect.hromada.law)) {
      const shown = await page.getAttribute(`[data-figures="law"] [data-figure="${key}"]`, 'data-value');
      check(shown === String(value), `law ${key} shows ${shown}, gRPC ${value}`);
    }
    check(expect.hromada.statute_answer_beyond_law > 0, 'the test hromada has no statute beyond the law');
    const flag = await page.textContent('[data-flag="statute_answer"]').catch(() => null);
    check(flag !== null && flag.includes(String(expect.hromada.statute_answer_beyond_law)) && flag.includes('23-1'),
      `the statute's flag reads ${flag}`);
    const levels = await downloadCsv(page, 'opened-government');
    const counted = levels.rows.slice(1).map((r) => r[1]);
    check(JSON.stringify(counted) === JSON.stringify(expect.hromada.openness.opened_government.map((k) => k[1])),
      `opened-government counts ${counted.join(', ')}, gRPC ${expect.hromada.openness.opened_government.map((k) => k[1]).join(', ')}`);
    // The independent assessment, apart from the self-reported one: the monitor named, and
    // both counts side by side (the CSV of the comparison), as gRPC has them.
    const independentShown = await page.getAttribute(
      '[data-figures="hromada-independent"] [data-figure="independent_commitments_assessed"]', 'data-value');
    check(independentShown === String(expect.independent.commitments_assessed),
      `independent commitments shows ${independentShown}, gRPC ${expect.independent.commitments_assessed}`);
    const compared = await downloadCsv(page, 'hromada-opened-compare');
    const pairs = compared.rows.slice(1).map((r) => [r[1], r[2]]);
    check(JSON.stringify(pairs) === JSON.stringify(expect.independent.compare),
      `independent/self counts ${JSON.stringify(pairs)}, gRPC ${JSON.stringify(expect.independent.compare)}`);
    const assessed = await downloadCsv(page, 'hromada-assessments');
    check(assessed.rows.length === 2 && assessed.rows[1][1] === `${expect.independent.monitor_name} (chesno)`,
      `the assessments table names ${assessed.rows[1]?.[1]}, gRPC ${expect.independent.monitor_name}`);
    const independentText = await page.textContent('[data-section="independent"]');
    check(independentText.includes('незначно відкрило') && independentText.includes('суттєво відкрило'),
      `the independent section does not show both levels: ${independentText}`);
    await page.screenshot({ path: path.join(shots, 'hromada.png'), fullPage: true });

    step('language');
    await open(page, '#/overview', 'overview');
    // By keyboard: Tab from the top of the page to the English button, then Enter.
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    await page.focus('body');
    let reached = false;
    for (let i = 0; i < TABS_MAX && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.dataset?.lang === 'en');
    }
    check(reached, `the English switch is not reachable with ${TABS_MAX} Tab presses`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('html[lang="en"]', { timeout: PAGE_TIMEOUT_MS });
    await viewReady(page, 'overview');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'National overview', null, { timeout: PAGE_TIMEOUT_MS });
    check(page.url().includes('lang=en'), `the link does not keep the language: ${page.url()}`);
    const english = await page.$$eval('nav a', (as) => as.map((a) => a.textContent));
    check(english[0] === 'Overview' && english.includes('Federation health'), `navigation not in English: ${english}`);
    const label = await page.textContent('[data-figure="petitions_filed"] dt');
    check(label === 'Petitions filed', `figure label not in English: ${label}`);
    check(await page.getAttribute('button[data-lang="en"]', 'aria-pressed') === 'true', 'English not marked pressed');
    await chartsDrawn(page, ['map']);
    await page.screenshot({ path: path.join(shots, 'overview-en.png'), fullPage: true });
    await page.click('button[data-lang="uk"]');
    await page.waitForSelector('html[lang="uk"]', { timeout: PAGE_TIMEOUT_MS });
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Огляд країни', null, { timeout: PAGE_TIMEOUT_MS });

    step('live');
    await page.evaluate(() => { window.__sameDocument = true; });
    const origin = await page.evaluate(() => performance.timeOrigin);
    const before = await headline(page);
    console.log(`READY ${before.petitions_filed.value}`);
    const line = await nextLine();
    check(line.startsWith('EXPECT '), `expected an EXPECT line, got ${line}`);
    const wanted = JSON.parse(line.slice('EXPECT '.length));
    check(wanted.petitions_filed !== Number(before.petitions_filed.value), 'the new activity changed nothing');
    const deadline = Date.now() + LIVE_TIMEOUT_MS;
    let left = sameFigures(await headline(page), wanted);
    while (left.length && Date.now() < deadline) {
      await page.waitForTimeout(200);
      left = sameFigures(await headline(page), wanted);
    }
    check(left.length === 0, `the page did not show the new figures live: ${left.join('; ')}`);
    check(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
    check(await page.evaluate(() => performance.timeOrigin) === origin, 'the page was reloaded');
    console.log(`live ${before.petitions_filed.value} -> ${wanted.petitions_filed} after ${
      await page.getAttribute('html', 'data-updates')} updates`);
    await page.screenshot({ path: path.join(shots, 'overview-live.png'), fullPage: true });

    check(errors.length === 0, `errors in the page: ${errors.join(' | ')}`);
    const violations = await page.evaluate(() => window.__cspViolations);
    check(violations.length === 0, `the page broke its CSP: ${violations.join(' | ')}`);
    // The policy does forbid eval: the page works without it, not merely beside it. (A string
    // timer compiles in the page itself; code run through DevTools would be exempt.)
    await page.evaluate(() => setTimeout('window.__evalRan = true', 0)); // eslint-disable-line no-implied-eval
    await page.waitForTimeout(300);
    check(await page.evaluate(() => window.__evalRan) !== true, 'eval ran: the CSP allows it');
    const blocked = await page.evaluate(() => window.__cspViolations);
    check(blocked.some((v) => v.startsWith('script-src') && v.endsWith('eval')),
      `the blocked eval was not reported: ${blocked.join(' | ') || 'no violation'}`);
  } catch (error) {
    const page = browser.contexts()[0]?.pages()[0];
    await page?.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
}

try {
  await run();
  console.log('PASS');
  process.exit(0);
} catch (error) {
  const seen = errors.length ? ` (the page said: ${errors.join(' | ')})` : '';
  console.log(`FAIL ${error instanceof Failure ? error.message : error.stack}${seen}`.replaceAll('\n', ' '));
  process.exit(1);
}
