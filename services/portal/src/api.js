// The APIs the portal calls: the node's (same origin, with the session cookie) and the
// association's public audit API (receipts: checkpoints, proofs and the keys it publishes),
// both over gRPC-Web. Codecs come from the node's descriptor set at run time: @bufbuild/protobuf
// builds them from data, never by compiling code, so the page's policy forbids eval.

import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';

const NODE_SERVICE = 'vidkryto.node.v1.NodeService';
const AUDIT_SERVICE = 'vidkryto.audit.v1.AuditService';
/** Longest any call may take. */
export const CALL_TIMEOUT_MS = 15_000;
/** Options of every call. */
export const CALL = { timeoutMs: CALL_TIMEOUT_MS };

async function fetchOk(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response;
}

/**
 * The node's client, the association's audit client (null when the node names no association)
 * and the portal's settings (`{ municipality, association }`).
 */
export async function connect() {
  const [descriptor, settings] = await Promise.all([
    fetchOk('/api/descriptor.binpb').then((r) => r.arrayBuffer()),
    fetchOk('/api/portal.json').then((r) => r.json()),
  ]);
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, new Uint8Array(descriptor)));
  const service = (name) => {
    const found = registry.getService(name);
    if (!found) throw new Error(`the node's API has no ${name}`);
    return found;
  };
  const node = createClient(service(NODE_SERVICE),
    createGrpcWebTransport({ baseUrl: location.origin, useBinaryFormat: true }));
  // Another origin: the browser sends no cookie there (`omit`), and the association answers
  // its public reads to anyone.
  const audit = settings.association
    ? createClient(service(AUDIT_SERVICE), createGrpcWebTransport({
      baseUrl: settings.association,
      useBinaryFormat: true,
      fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: 'omit' }),
    }))
    : null;
  return { node, audit, settings };
}

/** Who is signed in here: `{ signed_in, resident, roles, ends_at }`. */
export async function session() {
  const response = await fetch('/auth/session', { credentials: 'same-origin' });
  return response.ok ? response.json() : { signed_in: false, roles: [] };
}

/** What went wrong with a call, in the server's words. */
export function reason(e) {
  return e instanceof ConnectError ? e.rawMessage : String(e?.message ?? e);
}
