// A resident's receipt, checked where they are: in their own browser (WebCrypto: SHA-256 and
// Ed25519), trusting neither the page's server nor anyone else, only the keys the association
// publishes for the hromada's node and for its own witness. The same module runs in the
// hromada's portal and in the national dashboard, so a resident can have a second party check
// a receipt the node issued. Formats: event-store/FORMAT.md ("The Merkle tree",
// "Checkpoints").
//
// A receipt (JSON, `vidkryto-receipt/v1`):
//   { format, origin, seq, event: base64(the event's canonical bytes),
//     checkpoint: the signed note (the node's signature and the witness's cosignature),
//     inclusion: [base64(hash), …] (RFC 6962 inclusion proof of leaf seq - 1),
//     claim: optional, what the receipt proves: { eventType, streamId, eventId }, each checked
//            against the event's own header (e.g. 104, the petition, the signing request's id) }
//
// verifyReceipt(receipt, keys) checks: the node's signature on the checkpoint, by the key named
// by the checkpoint's origin; the witness's cosignature (C2SP tlog-cosignature); and that the
// event's leaf hash is in the checkpoint's tree at position seq, and that the event's own header
// is what the receipt says. verifyExtension(older, newer, proof, keys) checks a newer checkpoint
// and that it extends an older one (consistency proof), so a receipt kept for years is checked
// against today's log (receipt-check.js does both with what the association serves).

/** The receipt format this module reads. */
export const RECEIPT_FORMAT = 'vidkryto-receipt/v1';
/** Longest signed note read (the log's own bound). */
const NOTE_LEN_MAX = 16 * 1024;
/** Most hashes in a proof (a tree of 2^64 leaves needs 64). */
const PROOF_LEN_MAX = 64;
/** Most hashes in a consistency proof (one between trees of up to 2^64 leaves needs 128). */
const CONSISTENCY_LEN_MAX = 128;
/** Most signature lines in a note. */
const SIGNATURES_MAX = 16;
/** Signed-note key algorithm bytes: Ed25519, and a C2SP tlog-cosignature/v1. */
const ALG_ED25519 = 0x01;
const ALG_COSIGNATURE_V1 = 0x04;

/** Why a receipt does not hold; `code` names the check (for the page's messages). */
export class ReceiptError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ReceiptError';
    this.code = code;
  }
}

const fail = (code, message) => { throw new ReceiptError(code, message); };
const utf8 = new TextEncoder();

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) fail('crypto', 'this browser offers no WebCrypto (a secure context is needed)');
  return s;
}

/** Standard base64 to bytes; `what` names the field in the error. */
function fromBase64(text, what) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    fail('format', `${what} is not base64`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The bytes of `parts`, one after another. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i += 1) d |= a[i] ^ b[i];
  return d === 0;
}

async function sha256(...parts) {
  return new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ bytes). */
export async function leafHash(bytes) {
  return sha256(Uint8Array.of(0), bytes);
}

async function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

/** A verifier key `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`, its hash checked. */
export async function parseKey(text) {
  // The name has no `+`; the base64 key may.
  const match = typeof text === 'string' ? /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim()) : null;
  if (!match) fail('key', 'a key is `<name>+<hex key hash>+<base64 key>`');
  const [, name, hash, encoded] = match;
  const raw = fromBase64(encoded, 'the key');
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) fail('key', `${name}: not an Ed25519 key`);
  const publicKey = raw.slice(1);
  const keyHash = (await sha256(utf8.encode(`${name}\n`), raw)).slice(0, 4);
  const hex = [...keyHash].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== hash) fail('key', `${name}: the key hash does not match the key`);
  const cosignHash = (await sha256(utf8.encode(`${name}\n`), Uint8Array.of(ALG_COSIGNATURE_V1), publicKey)).slice(0, 4);
  return { name, keyHash, cosignHash, publicKey };
}

/** A signed note: its body (origin, size, root), and its signature lines. */
export function parseNote(text) {
  if (typeof text !== 'string' || text.length > NOTE_LEN_MAX) fail('note', 'the checkpoint is missing or too long');
  const split = text.lastIndexOf('\n\n');
  if (split < 0 || !text.endsWith('\n')) fail('note', 'the checkpoint has no signatures');
  const body = text.slice(0, split + 1);
  const lines = body.split('\n');
  const [origin, sizeText, rootText] = lines;
  if (!origin || !/^(0|[1-9][0-9]{0,19})$/.test(sizeText ?? '')) fail('note', 'the checkpoint body is malformed');
  const size = BigInt(sizeText);
  if (size >= 2n ** 64n) fail('note', 'the checkpoint size is out of range');
  const root = fromBase64(rootText, 'the checkpoint root');
  if (root.length !== 32) fail('note', 'the checkpoint root is not 32 bytes');
  const signatures = text.slice(split + 2, -1).split('\n').map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) fail('note', 'a signature line is malformed');
    const bytes = fromBase64(match[2], 'a signature');
    if (bytes.length < 5) fail('note', 'a signature is too short');
    return { name: match[1], bytes };
  });
  if (signatures.length > SIGNATURES_MAX) fail('note', 'the checkpoint has too many signatures');
  return { body: utf8.encode(body), origin, size, root, signatures };
}

async function ed25519(publicKey, signature, message) {
  let key;
  try {
    key = await subtle().importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    fail('crypto', `this browser cannot check Ed25519 signatures (${e.message})`);
  }
  return subtle().verify({ name: 'Ed25519' }, key, signature, message);
}

/** Checks `note`: signed by `nodeKey` (named by its origin) and cosigned by `witnessKey`. */
export async function verifyCheckpoint(noteText, keys) {
  const note = parseNote(noteText);
  const node = await parseKey(keys.nodeKey);
  const witness = await parseKey(keys.witnessKey);
  if (note.origin !== node.name) {
    fail('origin', `the checkpoint is of ${note.origin}, not of ${node.name}`);
  }
  const signed = note.signatures.find((s) => s.name === node.name && equal(s.bytes.slice(0, 4), node.keyHash));
  if (!signed || signed.bytes.length !== 68
      || !(await ed25519(node.publicKey, signed.bytes.slice(4), note.body))) {
    fail('signature', `the checkpoint is not signed by ${node.name}`);
  }
  const cosigned = note.signatures.find((s) => s.name === witness.name && equal(s.bytes.slice(0, 4), witness.cosignHash));
  if (!cosigned || cosigned.bytes.length !== 4 + 8 + 64) {
    fail('cosignature', `the checkpoint is not cosigned by ${witness.name}`);
  }
  const time = new DataView(cosigned.bytes.buffer, cosigned.bytes.byteOffset + 4, 8).getBigUint64(0);
  const message = concat(utf8.encode(`cosignature/v1\ntime ${time}\n`), note.body);
  if (!(await ed25519(witness.publicKey, cosigned.bytes.slice(12), message))) {
    fail('cosignature', `the cosignature of ${witness.name} does not verify`);
  }
  return { origin: note.origin, size: note.size, root: note.root, cosignedAt: new Date(Number(time) * 1000) };
}

/** A proof's hashes, base64 texts or bytes, at most `max` of 32 bytes each. */
function proofHashes(list, what, max = PROOF_LEN_MAX, code = 'proof') {
  if (!Array.isArray(list) || list.length > max) fail(code, `the ${what} is malformed`);
  return list.map((h) => {
    const hash = h instanceof Uint8Array ? h : fromBase64(h, `a hash of the ${what}`);
    if (hash.length !== 32) fail(code, `a hash of the ${what} is not 32 bytes`);
    return hash;
  });
}

/** RFC 9162 2.1.3.2: whether `proof` puts `leaf` at `index` of the tree of `size` with `root`. */
export async function inclusionHolds(leaf, index, size, proof, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/** RFC 9162 2.1.4.2: whether `proof` shows the tree (newSize, newRoot) extends (oldSize, oldRoot). */
export async function consistencyHolds(oldSize, newSize, proof, oldRoot, newRoot) {
  if (oldSize > newSize) return false;
  if (oldSize === newSize || oldSize === 0n) {
    return proof.length === 0 && (oldSize === 0n || equal(oldRoot, newRoot));
  }
  if (proof.length === 0) return false;
  const path = (oldSize & (oldSize - 1n)) === 0n ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1n;
  let sn = newSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, oldRoot) && equal(sr, newRoot);
}

/**
 * Checks `receipt` against the keys the association publishes (`{ nodeKey, witnessKey }`, verifier
 * key texts). Resolves to what it proves, or rejects with a ReceiptError naming what fails.
 */
export async function verifyReceipt(receipt, keys) {
  if (!receipt || receipt.format !== RECEIPT_FORMAT) fail('format', `not a ${RECEIPT_FORMAT} receipt`);
  if (!Number.isSafeInteger(receipt.seq) || receipt.seq < 1) fail('format', 'the receipt names no event position');
  const checkpoint = await verifyCheckpoint(receipt.checkpoint, keys);
  if (receipt.origin !== checkpoint.origin) fail('origin', `the receipt is of ${receipt.origin}, its checkpoint of ${checkpoint.origin}`);
  const event = fromBase64(receipt.event, 'the event');
  const leaf = await leafHash(event);
  const proof = proofHashes(receipt.inclusion, 'inclusion proof');
  if (!(await inclusionHolds(leaf, BigInt(receipt.seq - 1), checkpoint.size, proof, checkpoint.root))) {
    fail('proof', `event ${receipt.seq} is not in the checkpoint of ${checkpoint.size} events`);
  }
  // What the event is, from its own bytes: its position and hromada must be the receipt's, and
  // what the receipt claims it proves (e.g. this resident's signature of this petition) must be
  // what it is.
  const header = decodeEnvelopeHeader(event);
  if (header.seq !== BigInt(receipt.seq)) fail('event', `the event says it is no. ${header.seq}, the receipt no. ${receipt.seq}`);
  if (`vidkryto/${header.municipality}` !== checkpoint.origin) {
    fail('event', `the event is of ${header.municipality}, the log of ${checkpoint.origin}`);
  }
  const claim = receipt.claim;
  if (claim !== undefined) {
    if (!claim || typeof claim !== 'object') fail('format', 'the receipt\'s claim is malformed');
    for (const [field, expected] of [['eventType', claim.eventType], ['streamId', claim.streamId], ['eventId', claim.eventId]]) {
      if (expected !== undefined && header[field] !== expected) {
        fail('claim', `the event's ${field} is ${header[field]}, not ${expected} as the receipt claims`);
      }
    }
  }
  return { origin: checkpoint.origin, seq: receipt.seq, size: checkpoint.size, cosignedAt: checkpoint.cosignedAt, leaf, event: header };
}

/** Reads a postcard varint of at most `bits` bits at `at`; rejects overlong and too-wide forms. */
function varint(bytes, at, bits) {
  let value = 0n;
  for (let i = 0; i < Math.ceil(bits / 7); i += 1) {
    if (at.i >= bytes.length) fail('event', 'the event ends inside a number');
    const byte = bytes[at.i];
    at.i += 1;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) fail('event', 'the event has an overlong number');
      if (value >= 1n << BigInt(bits)) fail('event', 'a number of the event is out of range');
      return value;
    }
  }
  return fail('event', 'a number of the event is too long');
}

function uuid(bytes, at) {
  if (at.i + 16 > bytes.length) fail('event', 'the event ends inside an id');
  const hex = [...bytes.subarray(at.i, at.i + 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
  at.i += 16;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The header of an event's canonical bytes (event-store/FORMAT.md, "The envelope": fields 1 to
 * 9; the payload is left as it is): { eventType, schemaVersion, municipality, seq (BigInt),
 * streamId, streamVersion (BigInt), eventId, recordedAt (Date) }.
 */
export function decodeEnvelopeHeader(bytes) {
  if (bytes[0] !== 1) fail('event', 'the event is not of envelope version 1');
  const at = { i: 1 };
  const eventType = Number(varint(bytes, at, 16));
  const schemaVersion = Number(varint(bytes, at, 16));
  const length = Number(varint(bytes, at, 32));
  if (length > 64 || at.i + length > bytes.length) fail('event', "the event's hromada code is malformed");
  let municipality;
  try {
    municipality = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at.i, at.i + length));
  } catch {
    fail('event', "the event's hromada code is not UTF-8");
  }
  at.i += length;
  const seq = varint(bytes, at, 64);
  const streamId = uuid(bytes, at);
  const streamVersion = varint(bytes, at, 64);
  const eventId = uuid(bytes, at);
  const zigzag = varint(bytes, at, 64);
  const micros = (zigzag >> 1n) ^ -(zigzag & 1n);
  return { eventType, schemaVersion, municipality, seq, streamId, streamVersion, eventId, recordedAt: new Date(Number(micros / 1000n)) };
}

/**
 * Checks the newer checkpoint `newerNote` (signed by `keys`' node key, cosigned by its witness)
 * and that its tree extends the one of the verified `olderNote` (`proof`: the consistency proof,
 * base64 texts or bytes). Resolves to the newer checkpoint.
 */
export async function verifyExtension(olderNote, newerNote, proof, keys) {
  const older = parseNote(olderNote);
  const newer = await verifyCheckpoint(newerNote, keys);
  const hashes = proofHashes(proof, 'consistency proof', CONSISTENCY_LEN_MAX, 'consistency');
  if (!(await consistencyHolds(older.size, newer.size, hashes, older.root, newer.root))) {
    fail('consistency', `the checkpoint of ${newer.size} events does not extend the receipt's of ${older.size}`);
  }
  return newer;
}
