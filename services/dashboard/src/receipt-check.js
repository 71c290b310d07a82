// A receipt checked with what the association serves, for the portal and the dashboard alike:
// the keys it publishes for the hromada (every key it ever enrolled: a key rotated later still
// proves what it signed) and its witness key; then, when the log has grown, the newest cosigned
// checkpoint and that it extends the receipt's (consistency proof). `audit` is a client of
// `vidkryto.audit.v1.AuditService` (rpc.js). The checks themselves are receipt.js's, in the
// browser, trusting nothing the server says beyond the keys.

import { RECEIPT_FORMAT, ReceiptError, parseNote, verifyExtension, verifyReceipt } from './receipt.js';
import { CALL_TIMEOUT_MS, ConnectError } from './rpc.js';

/** Options of each call to the association. */
const CALL = { timeoutMs: CALL_TIMEOUT_MS };

/** Largest receipt a page reads from a paste or a file. */
export const RECEIPT_LEN_MAX = 64 * 1024;

/**
 * A pasted or read receipt's text as an object; one larger than RECEIPT_LEN_MAX (refused with
 * `tooLarge`, the page's own words) or not JSON is a ReceiptError of code `format`.
 */
export function parseReceipt(text, tooLarge) {
  if (text.length > RECEIPT_LEN_MAX) throw new ReceiptError('format', tooLarge);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ReceiptError('format', e.message);
  }
}

/** The check a failure names: the checker's own, the association's answer, or the receipt's shape. */
export function failureCode(e) {
  if (e instanceof ReceiptError) return e.code;
  return e instanceof ConnectError ? 'association' : 'format';
}

const base64 = (bytes) => btoa(String.fromCharCode(...bytes));

/** The hromada's code in a checkpoint origin `vidkryto/<code>`. */
export function codeOf(origin) {
  const match = /^vidkryto\/(UA\d{17})$/.exec(origin ?? '');
  if (!match) throw new ReceiptError('format', `the receipt is of ${origin}, which is no hromada's log`);
  return match[1];
}

/**
 * The receipt an inclusion proof with its cosigned checkpoint makes (null without one);
 * `claim`, what it is meant to prove (`{ eventType, streamId, eventId }`), is kept in it and
 * checked against the event's own bytes whenever it is checked.
 */
export function receiptFromProof(proof, claim) {
  if (!proof.cosignedNote) return null;
  return {
    format: RECEIPT_FORMAT,
    origin: parseNote(proof.cosignedNote).origin,
    seq: Number(proof.seq),
    event: base64(proof.envelope),
    checkpoint: proof.cosignedNote,
    inclusion: proof.hashes.map(base64),
    ...(claim ? { claim } : {}),
  };
}

/** How telling a failure under one key is: a key that did sign says more than one that did not. */
const TELLING = (e) => (e.code === 'key' ? 3 : e.code === 'signature' ? 1 : 2);

/**
 * The first of `keys` (newest first) under which `check(key)` holds; else the most telling
 * failure (a revoked key that signed, then a key that signed but something else failed, then
 * the newest key's signature).
 */
async function underSomeKey(keys, check) {
  let failure;
  for (const key of keys) {
    try {
      return { key, result: await check(key) };
    } catch (e) {
      if (!(e instanceof ReceiptError)) throw e;
      if (!failure || TELLING(e) > TELLING(failure)) failure = e;
    }
  }
  throw failure;
}

/**
 * Checks `receipt` against the association's published keys and newest checkpoint. Resolves
 * to what was proved (receipt.js's result, with `newerSize` when checked against a newer
 * checkpoint); rejects with a ReceiptError naming the check that failed, or the association's
 * error. The receipt's checkpoint may be signed by any key the association ever enrolled for
 * the hromada, but not after that key was revoked; the newest checkpoint by any of them (a key
 * rotated since still extends the same log).
 */
export async function checkWithAssociation(audit, receipt) {
  if (!receipt || receipt.format !== RECEIPT_FORMAT) throw new ReceiptError('format', `not a ${RECEIPT_FORMAT} receipt`);
  const code = codeOf(receipt.origin);
  const published = await audit.listKeys({ code }, CALL);
  const nodeKeys = published.keys.filter((k) => k.code === code).reverse();
  if (!nodeKeys.length) throw new ReceiptError('key', `the association publishes no key of ${code}`);
  const keysOf = (k) => ({ nodeKey: k.vkey, witnessKey: published.witnessVkey });
  const { result: proved } = await underSomeKey(nodeKeys, async (k) => {
    const result = await verifyReceipt(receipt, keysOf(k));
    const revokedAt = Number(k.revokedAtMicros ?? 0) / 1000;
    if (revokedAt > 0 && result.cosignedAt.getTime() > revokedAt) {
      throw new ReceiptError('key', `the checkpoint was cosigned after ${code}'s key was revoked`);
    }
    return result;
  });
  const latest = await audit.getInclusionProof({ code, seq: BigInt(receipt.seq), treeSize: 0n }, CALL);
  const newerSize = latest.cosignedNote ? parseNote(latest.cosignedNote).size : 0n;
  if (newerSize <= proved.size) return proved;
  const consistency = await audit.getConsistencyProof({ code, oldSize: proved.size, newSize: newerSize }, CALL);
  const { result: newer } = await underSomeKey(nodeKeys,
    (k) => verifyExtension(receipt.checkpoint, latest.cosignedNote, consistency.hashes, keysOf(k)));
  return { ...proved, newerSize: newer.size, newerCosignedAt: newer.cosignedAt };
}
