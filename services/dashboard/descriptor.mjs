// The APIs' JSON descriptor, generated from the .proto files by protobufjs-cli (`pbjs -t json`):
// what the build ships as data/api.json and the codec's tests check against protobufjs.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

/** The .proto files the dashboard reads (both without imports). */
export const PROTOS = [
  'proto/vidkryto/national/v1/national.proto',
  'proto/vidkryto/federation/v1/federation.proto',
];

export function apiDescriptor() {
  const pbjs = path.join(here, 'node_modules/protobufjs-cli/bin/pbjs');
  const json = execFileSync(process.execPath, [pbjs, '-t', 'json', ...PROTOS], {
    cwd: repo,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  // pbjs camel-cases `petitions_per_10k` as `petitionsPer_10k`; protobuf's JSON mapping (and
  // the page) calls it `petitionsPer10k`. Names only matter to the page: the wire has numbers.
  const descriptor = JSON.parse(json);
  const rename = (node) => {
    if (node.fields) {
      node.fields = Object.fromEntries(Object.entries(node.fields)
        .map(([name, field]) => [name.replace(/_(\d)/g, '$1'), field]));
    }
    for (const child of Object.values(node.nested ?? {})) rename(child);
  };
  rename(descriptor);
  return descriptor;
}
