// Builds the hromada's portal into dist/, which a node serves (`portal_dir`):
//
//   dist/index.html              the page (no-cache), naming the asset directory below
//   dist/assets/<hash>/app.js    src/app.js and what it imports (the dashboard's gRPC-Web
//                                client and receipt checker, with @bufbuild/protobuf and
//                                @connectrpc/connect-web from ../dashboard/node_modules),
//                                bundled by esbuild into one ES module with no eval
//   dist/assets/<hash>/style.css
//
// The asset directory is named by the hash of its contents; every text file gets Brotli and
// gzip copies (../dashboard/assets.mjs). Nothing is fetched at run time: the API's descriptor
// comes from the node that serves the page (/api/descriptor.binpb). Same sources, same bytes.
//
// Usage: node build.mjs [--out DIR]   (written to a temporary directory, then renamed)

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assetDirectory, bundle, writeWithCopies } from '../dashboard/assets.mjs';
import { STRINGS } from './src/i18n.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = path.resolve(here, outIndex >= 0 ? args[outIndex + 1] : 'dist');

// Both languages name the same strings, down to every nested table (statuses, decisions…).
const keys = (o) => Object.keys(o).sort().join(',');
for (const key of Object.keys(STRINGS.uk)) {
  const [uk, en] = [STRINGS.uk[key], STRINGS.en[key]];
  if (typeof uk !== typeof en || (typeof uk === 'object' && keys(uk) !== keys(en))) {
    throw new Error(`src/i18n.js: the Ukrainian and English dictionaries differ at ${key}`);
  }
}
if (keys(STRINGS.uk) !== keys(STRINGS.en)) {
  throw new Error('src/i18n.js: the Ukrainian and English dictionaries name different strings');
}

const app = await bundle(path.join(here, 'src/app.js'));

/** path in the asset directory → bytes */
const files = new Map([
  ['app.js', app],
  ['style.css', fs.readFileSync(path.join(here, 'src/style.css'))],
]);
const names = [...files.keys()].sort();
const assetDir = assetDirectory(files);
const page = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8');
if (!page.includes('{{ASSETS}}')) throw new Error('src/index.html does not name {{ASSETS}}');
const index = page.replaceAll('{{ASSETS}}', assetDir);

const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
for (const name of names) writeWithCopies(path.join(tmp, assetDir, name), files.get(name));
writeWithCopies(path.join(tmp, 'index.html'), Buffer.from(index));
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
const total = [...files.values()].reduce((n, b) => n + b.length, Buffer.byteLength(index));
console.log(`portal built: ${path.relative(process.cwd(), out) || '.'}/index.html and ${assetDir}/ (${(total / 1024).toFixed(0)} KiB)`);
