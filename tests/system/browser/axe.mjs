// axe-core in the page, for the browser tests of the portal and the dashboard: fails on any
// WCAG 2 A/AA violation in the page as it is. axe-core is the portal's test dependency; the one
// installed copy serves both.

import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../../services/portal/package.json', import.meta.url));
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export async function axe(page, where) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'] });
    return result.violations.map((v) => `${v.id} [${v.impact}] (${v.nodes.length}): ${v.help}`);
  });
  if (violations.length) throw new Error(`axe on ${where}: ${violations.join('; ')}`);
}
