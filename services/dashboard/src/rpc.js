// One gRPC-Web client for the national dashboard and the hromadas' portal: the codecs come
// from the serving API's own descriptor set (`/api/descriptor.binpb`: the page's own server,
// so it and its API never disagree; the portal also calls the association with the node's
// descriptor, whose audit API the association keeps compatible), built at run time by
// @bufbuild/protobuf from data, never by compiling code (so pages forbid eval), and calls go
// over gRPC-Web with @connectrpc/connect-web. `plain` turns a message into the plain object
// the dashboard's views read.

import { ScalarType, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';

export { Code, ConnectError };

/** Longest a unary call may take unless the caller says otherwise. */
export const CALL_TIMEOUT_MS = 15_000;

/** The registry of every message and service in the descriptor set at `url`. */
export async function loadRegistry(url = '/api/descriptor.binpb') {
  const response = await fetch(url, { credentials: 'same-origin', signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`the API's descriptor (${url}): HTTP ${response.status}`);
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await response.arrayBuffer()));
  return createFileRegistry(set);
}

/** The service `name` of `registry`; throws when the API has none. */
export function service(registry, name) {
  const found = registry.getService(name);
  if (!found) throw new Error(`the API has no ${name}`);
  return found;
}

/**
 * A client of the service `name` at `baseUrl` (default: this page's origin, with its cookies;
 * another origin gets none).
 */
export function serviceClient(registry, name, baseUrl = globalThis.location?.origin) {
  const sameOrigin = baseUrl === globalThis.location?.origin;
  const transport = createGrpcWebTransport({
    baseUrl,
    useBinaryFormat: true,
    fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: sameOrigin ? 'same-origin' : 'omit' }),
  });
  return createClient(service(registry, name), transport);
}

const SIXTY_FOUR = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.FIXED64,
  ScalarType.SFIXED64, ScalarType.SINT64]);

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function plainScalar(type, value) {
  if (SIXTY_FOUR.has(type)) return Number(value);
  if (type === ScalarType.BYTES) return hex(value);
  return value;
}

function plainEnum(desc, value) {
  return desc.values.find((v) => v.number === value)?.name ?? value;
}

function plainValue(kind, field, value) {
  switch (kind) {
    case 'scalar': return plainScalar(field.scalar, value);
    case 'enum': return plainEnum(field.enum, value);
    case 'message': return plain(field.message, value);
    default: throw new Error(`unknown field kind ${kind}`);
  }
}

/**
 * `message` (of the type `desc`) as a plain object: camelCase fields, every field present with
 * its default (null for an absent message) except an unset `optional` or oneof member; 64-bit
 * integers as numbers (the API's counts are far below 2^53), enums by their names in the .proto,
 * bytes as lowercase hex, maps as objects, well-known types as their fields.
 */
export function plain(desc, message) {
  const out = {};
  for (const field of desc.fields) {
    let value;
    if (field.oneof) {
      const chosen = message[field.oneof.localName];
      if (chosen?.case !== field.localName) continue;
      value = chosen.value;
    } else {
      value = message[field.localName];
    }
    const name = field.localName;
    switch (field.fieldKind) {
      case 'list':
        out[name] = value.map((item) => plainValue(field.listKind, field, item));
        break;
      case 'map':
        out[name] = Object.fromEntries(Object.entries(value)
          .map(([k, v]) => [k, plainValue(field.mapKind, field, v)]));
        break;
      case 'message':
        out[name] = value === undefined ? null : plain(field.message, value);
        break;
      default:
        if (value === undefined) continue;
        out[name] = plainValue(field.fieldKind, field, value);
    }
  }
  return out;
}
