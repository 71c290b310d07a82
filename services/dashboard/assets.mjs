// What the dashboard's and the portal's builds share: bundling a page's code with esbuild (one
// ES module, no eval), and writing a file with its compressed copies (`x.js.br` at Brotli's best,
// `x.js.gz` at gzip's best, each only when smaller), which the server sends to browsers that
// accept them (wire::site): nothing is compressed per request.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import * as esbuild from 'esbuild';

/** `entry` and what it imports as one minified ES module (bytes); `external`: paths left as imports. */
export async function bundle(entry, external = []) {
  const built = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'eof',
    external,
    write: false,
    logLevel: 'warning',
  });
  if (built.outputFiles.length !== 1) throw new Error(`esbuild wrote more than one file for ${entry}`);
  return Buffer.from(built.outputFiles[0].contents);
}

/** Text files worth compressing, by extension, and the least size that is. */
const COMPRESSIBLE = /\.(html|js|mjs|css|json|svg|txt|csv)$/;
const COMPRESS_MIN_BYTES = 1024;

/** Writes `bytes` to `target`, with its compressed copies (deterministic: no names or times). */
export function writeWithCopies(target, bytes) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, bytes);
  if (!COMPRESSIBLE.test(target) || bytes.length < COMPRESS_MIN_BYTES) return;
  const brotli = zlib.brotliCompressSync(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  const gzip = zlib.gzipSync(bytes, { level: zlib.constants.Z_BEST_COMPRESSION });
  if (brotli.length < bytes.length) fs.writeFileSync(`${target}.br`, brotli);
  if (gzip.length < bytes.length) fs.writeFileSync(`${target}.gz`, gzip);
}


/** The asset directory's name for `files` (name → bytes): the hash of every name and its bytes,
 * so a new build of anything gets a new name and the old one stays immutable in caches. */
export function assetDirectory(files) {
  const digest = createHash('sha256');
  for (const name of [...files.keys()].sort()) {
    digest.update(`${name}\0${files.get(name).length}\0`);
    digest.update(files.get(name));
  }
  return `assets/${digest.digest('hex').slice(0, 16)}`;
}
