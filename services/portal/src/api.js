// The APIs the portal calls, through the client it shares with the dashboard
// (../../dashboard/src/rpc.js): the node's (same origin, with the session cookie) and the
// association's public audit API (receipts: checkpoints, proofs and the keys it publishes).

import { CALL_TIMEOUT_MS, ConnectError, loadRegistry, serviceClient } from '../../dashboard/src/rpc.js';

/** Options of every call. */
export const CALL = { timeoutMs: CALL_TIMEOUT_MS };

/**
 * The node's client, the association's audit client (null when the node names no association)
 * and the portal's settings (`{ municipality, association }`).
 */
export async function connect() {
  const [registry, settings] = await Promise.all([
    loadRegistry('/api/descriptor.binpb'),
    fetch('/api/portal.json', { credentials: 'same-origin', signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }).then((r) => {
      if (!r.ok) throw new Error(`/api/portal.json: HTTP ${r.status}`);
      return r.json();
    }),
  ]);
  const node = serviceClient(registry, 'vidkryto.node.v1.NodeService');
  // Another origin: the shared client sends no cookie there, and the association answers its
  // public reads to anyone.
  const audit = settings.association
    ? serviceClient(registry, 'vidkryto.audit.v1.AuditService', settings.association)
    : null;
  return { node, audit, settings };
}

/** Who is signed in here: `{ signed_in, resident, roles, ends_at }`. */
export async function session() {
  const response = await fetch('/auth/session', { credentials: 'same-origin', signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  return response.ok ? response.json() : { signed_in: false, roles: [] };
}

/** What went wrong with a call, in the server's words. */
export function reason(e) {
  return e instanceof ConnectError ? e.rawMessage : String(e?.message ?? e);
}
