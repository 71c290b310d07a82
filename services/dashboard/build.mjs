// Builds the dashboard's static assets into dist/, which the association serves:
//
//   dist/index.html                  the page (no-cache), naming the asset directory below
//   dist/assets/<hash>/…             everything else (immutable: the directory is named by the
//                                    hash of its contents, so a new build gets a new name)
//
// src/app.js and what it imports (the views, the shared gRPC-Web client src/rpc.js with
// @bufbuild/protobuf and @connectrpc/connect-web) are bundled by esbuild into one ES module with
// no eval; beside it, vendored dist files of npm packages (ECharts, loaded by the bundle as its
// own file so a new release of our code does not resend it), the ECharts Ukrainian locale as an
// ES module, and Ukraine's outline extracted from world-atlas at build time. The API's codecs
// come from the association's own descriptor set at run time (/api/descriptor.binpb). Nothing
// is fetched from elsewhere. The output depends only on the inputs: files are written in sorted
// order with no timestamps, so the same sources build the same bytes.
//
// Every text file of 1 KiB or more also gets compressed copies next to it (`x.js.br` at
// Brotli's best, `x.js.gz` at gzip's best, each only when smaller), which the server sends to
// browsers that accept them (wire::site): nothing is compressed per request.
//
// Usage: node build.mjs [--out DIR]   (default: dist; written to a temporary directory first and
// renamed into place, so a failed build never leaves a half-written dist/)

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assetDirectory, bundle, writeWithCopies } from './assets.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = path.resolve(here, outIndex >= 0 ? args[outIndex + 1] : 'dist');

/** World-atlas's ISO 3166-1 numeric id of Ukraine. */
const UKRAINE_ID = '804';
/** Crimea's bounding box (lon/lat): Natural Earth's de facto data puts the peninsula in another
 * country's geometry; the dashboard draws Ukraine's internationally recognised border. */
const CRIMEA_BOX = { lonMin: 32.4, lonMax: 36.7, latMin: 44.3, latMax: 46.3 };
/** Decimal places kept in the outline's coordinates (about 100 m). */
const OUTLINE_DECIMALS = 3;

/** path in the output → bytes */
const files = new Map();

function addFile(name, bytes) {
  if (files.has(name)) throw new Error(`two files named ${name}`);
  files.set(name, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8'));
}

// 0. Both languages have every string.
{
  const { DICTIONARIES } = await import(new URL('./src/i18n.js', import.meta.url));
  const [first, ...others] = Object.entries(DICTIONARIES);
  for (const [lang, dictionary] of others) {
    const missing = (from, to) => Object.keys(from).filter((k) => !(k in to));
    const gaps = [...missing(first[1], dictionary).map((k) => `${lang} lacks ${k}`),
      ...missing(dictionary, first[1]).map((k) => `${first[0]} lacks ${k}`)];
    if (gaps.length) throw new Error(`the dictionaries differ: ${gaps.join('; ')}`);
  }
}

// 1. Our code, bundled; the style sheet as it is.
const src = path.join(here, 'src');
{
  // The vendored files stay files of their own, next to app.js.
  addFile('app.js', await bundle(path.join(src, 'app.js'), ['./vendor/*']));
  addFile('style.css', fs.readFileSync(path.join(src, 'style.css')));
}

// 2. Vendored runtime files.
const pkgFile = (p) => require.resolve(p);
addFile('vendor/echarts.esm.min.mjs', fs.readFileSync(pkgFile('echarts/dist/echarts.esm.min.mjs')));
{
  // ECharts 6 ships its Ukrainian strings as i18n/langUK-obj.js (UMD): load the object here and
  // write it as an ES module the page registers as the 'UK' locale.
  const locale = require('echarts/i18n/langUK-obj.js');
  addFile('vendor/echarts-lang-uk.mjs',
    `// Apache ECharts ${require('echarts/package.json').version}, i18n/langUK-obj.js (Apache-2.0)\n` +
    `export default ${JSON.stringify(locale, null, 1)};\n`);
}

// 4. Ukraine's outline (GeoJSON) from world-atlas's 1:50m countries.
{
  const topojson = require('topojson-client');
  const world = require('world-atlas/countries-50m.json');
  const geometries = world.objects.countries.geometries;
  const ukraine = geometries.find((g) => String(g.id) === UKRAINE_ID);
  if (!ukraine) throw new Error('world-atlas has no Ukraine');
  // Crimea: the polygon of another geometry that lies inside the peninsula's box.
  const crimea = [];
  for (const g of geometries) {
    if (g === ukraine || g.type !== 'MultiPolygon') continue;
    const shape = topojson.feature(world, g).geometry;
    shape.coordinates.forEach((polygon, i) => {
      const ring = polygon[0];
      const inside = ring.every(([lon, lat]) => lon >= CRIMEA_BOX.lonMin && lon <= CRIMEA_BOX.lonMax
        && lat >= CRIMEA_BOX.latMin && lat <= CRIMEA_BOX.latMax);
      if (inside && ring.length > 20) crimea.push({ type: 'Polygon', arcs: g.arcs[i] });
    });
  }
  if (crimea.length !== 1) throw new Error(`expected one Crimea polygon, found ${crimea.length}`);
  const merged = topojson.merge(world, [ukraine, ...crimea]);
  const round = (v) => Number(v.toFixed(OUTLINE_DECIMALS));
  const coordinates = merged.coordinates.map((polygon) =>
    polygon.map((ring) => ring.map(([lon, lat]) => [round(lon), round(lat)])));
  addFile('data/ukraine.geo.json', JSON.stringify({
    type: 'FeatureCollection',
    features: [{
      type: 'Feature',
      properties: { name: 'Ukraine' },
      geometry: { type: 'MultiPolygon', coordinates },
    }],
  }));
}

// 5. Licences of what is vendored.
addFile('vendor/LICENSES.txt', [
  ['echarts', 'LICENSE'],
  ['world-atlas', 'LICENSE'],
  ['topojson-client', 'LICENSE'],
].map(([pkg, file]) => {
  const dir = path.dirname(require.resolve(`${pkg}/package.json`));
  const version = require(`${pkg}/package.json`).version;
  return `==== ${pkg} ${version} ====\n${fs.readFileSync(path.join(dir, file), 'utf8')}\n`;
}).join('\n'));

const names = [...files.keys()].sort();
const assetDir = assetDirectory(files);

const page = fs.readFileSync(path.join(src, 'index.html'), 'utf8');
if (!page.includes('{{ASSETS}}')) throw new Error('src/index.html does not name {{ASSETS}}');
const index = page.replaceAll('{{ASSETS}}', assetDir);

// Write into a temporary directory, then swap it in.
const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
for (const name of names) {
  writeWithCopies(path.join(tmp, assetDir, name), files.get(name));
}
writeWithCopies(path.join(tmp, 'index.html'), Buffer.from(index));
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);

let total = Buffer.byteLength(index);
for (const bytes of files.values()) total += bytes.length;
console.log(`dashboard built: ${path.relative(process.cwd(), out) || '.'}/index.html and ` +
  `${assetDir}/ (${files.size + 1} files, ${(total / 1024).toFixed(0)} KiB)`);
