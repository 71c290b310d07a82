// The receipt checker (src/receipt.js) against a receipt the log's own Rust code made
// (fixtures/receipt.json, from event-store-core's tests/receipt_fixture.rs), and against that
// receipt altered every way an attacker or an accident would alter it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { checkWithAssociation } from '../src/receipt-check.js';
import { ReceiptError, decodeEnvelopeHeader, verifyReceipt } from '../src/receipt.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/receipt.json', import.meta.url), 'utf8'));
const keys = { nodeKey: fixture.node_key, witnessKey: fixture.witness_key };
const copy = () => structuredClone(fixture.receipt);

/** Rejects with a ReceiptError of `code`. */
async function refused(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof ReceiptError, `${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** `text` with one base64 character at `at` changed (still valid base64). */
function flipBase64(text, at) {
  const c = text[at] === 'A' ? 'B' : 'A';
  return text.slice(0, at) + c + text.slice(at + 1);
}

test('a receipt the node issued verifies: event 3 in the cosigned checkpoint of 5', async () => {
  const proved = await verifyReceipt(fixture.receipt, keys);
  assert.equal(proved.seq, 3);
  assert.equal(proved.size, 5n);
  assert.equal(proved.origin, 'vidkryto/UA74040130000074451');
  assert.equal(proved.cosignedAt.toISOString(), new Date(1_790_000_000_000).toISOString());
  // What the event is, read from its own bytes.
  assert.equal(proved.event.eventType, 104);
  assert.equal(proved.event.seq, 3n);
  assert.equal(proved.event.municipality, 'UA74040130000074451');
  assert.equal(proved.event.streamId, fixture.receipt.claim.streamId);
  assert.equal(proved.event.eventId, fixture.receipt.claim.eventId);
  assert.equal(proved.event.recordedAt.toISOString(), new Date(1_790_000_003_000).toISOString());
});

test('a receipt that claims another event than it proves is refused', async () => {
  for (const [field, value] of [['eventType', 105], ['streamId', '0190abcd-0000-7000-8000-000000000001'],
    ['eventId', '0190abcd-0000-7000-8000-000000000002']]) {
    const other = copy();
    other.claim[field] = value;
    await refused(verifyReceipt(other, keys), 'claim');
  }
  const odd = copy();
  odd.claim = 'mine';
  await refused(verifyReceipt(odd, keys), 'format');
});

test('an envelope header that is cut, overlong or not version 1 is refused', () => {
  const bytes = Uint8Array.from(atob(fixture.receipt.event), (c) => c.charCodeAt(0));
  assert.equal(decodeEnvelopeHeader(bytes).eventType, 104);
  for (const bad of [bytes.slice(0, 10), Uint8Array.of(2, ...bytes.slice(1)), Uint8Array.of(1, 0xe8, 0x80, 0x00)]) {
    assert.throws(() => decodeEnvelopeHeader(bad), (e) => e instanceof ReceiptError && e.code === 'event');
  }
});

const bytesOf = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * The association's audit API as the checker calls it, serving the fixture: the hromada's keys
 * (`keys`, oldest first, as the association lists them), the newest checkpoint and the
 * consistency proof to it.
 */
function association({ keys = [{ vkey: fixture.node_key, revokedAtMicros: 0n }], newest = fixture.newer.checkpoint, consistency = fixture.newer.consistency } = {}) {
  const code = 'UA74040130000074451';
  return {
    listKeys: async () => ({ keys: keys.map((k) => ({ code, ...k })), witnessVkey: fixture.witness_key }),
    getInclusionProof: async () => ({ cosignedNote: newest }),
    getConsistencyProof: async () => ({ hashes: consistency.map(bytesOf) }),
  };
}

test('checked with the association: against its keys and its newest checkpoint, which must extend the receipt\'s', async () => {
  const proved = await checkWithAssociation(association(), fixture.receipt);
  assert.equal(proved.newerSize, 7n);
  assert.equal(proved.event.eventType, 104);
  // The newest checkpoint is the receipt's own: nothing newer to check.
  assert.equal((await checkWithAssociation(association({ newest: fixture.receipt.checkpoint }), fixture.receipt)).newerSize, undefined);
  const bent = [...fixture.newer.consistency];
  bent[0] = flipBase64(bent[0], 2);
  await refused(checkWithAssociation(association({ consistency: bent }), fixture.receipt), 'consistency');
  await refused(checkWithAssociation(association({ consistency: fixture.newer.consistency.slice(1) }), fixture.receipt), 'consistency');
  await refused(checkWithAssociation(association({ consistency: Array(129).fill(fixture.newer.consistency[0]) }), fixture.receipt), 'consistency');
});

test('checked with the association: a key revoked before the cosignature, or no key, fails; one revoked after holds', async () => {
  const cosigned = 1_790_000_000_000_000n;
  await refused(checkWithAssociation(association({ keys: [{ vkey: fixture.node_key, revokedAtMicros: cosigned - 1n }] }), fixture.receipt), 'key');
  const later = await checkWithAssociation(association({ keys: [{ vkey: fixture.node_key, revokedAtMicros: cosigned + 1n }] }), fixture.receipt);
  assert.equal(later.seq, 3);
  await refused(checkWithAssociation(association({ keys: [] }), fixture.receipt), 'key');
  // A published key that is not one (its hash does not match it).
  const other = fixture.node_key.replace('c50dd95e', '00000000');
  await refused(checkWithAssociation(association({ keys: [{ vkey: other, revokedAtMicros: 0n }] }), fixture.receipt), 'key');
});

test('another event, a changed event or another position is refused', async () => {
  const changed = copy();
  changed.event = flipBase64(changed.event, 5);
  await refused(verifyReceipt(changed, keys), 'proof');
  for (const seq of [2, 4, 5, 6]) {
    const moved = copy();
    moved.seq = seq;
    await refused(verifyReceipt(moved, keys), 'proof');
  }
  const bentProof = copy();
  bentProof.inclusion[1] = flipBase64(bentProof.inclusion[1], 3);
  await refused(verifyReceipt(bentProof, keys), 'proof');
  const longer = copy();
  longer.inclusion.push(longer.inclusion[0]);
  await refused(verifyReceipt(longer, keys), 'proof');
  const shorter = copy();
  shorter.inclusion.pop();
  await refused(verifyReceipt(shorter, keys), 'proof');
});

test('a checkpoint not signed by the node\'s key, or not cosigned by the witness, is refused', async () => {
  // A changed root or size: the node's signature no longer covers the body.
  const lines = fixture.receipt.checkpoint.split('\n');
  const resized = copy();
  resized.checkpoint = [lines[0], '6', ...lines.slice(2)].join('\n');
  await refused(verifyReceipt(resized, keys), 'signature');
  const rerooted = copy();
  rerooted.checkpoint = [lines[0], lines[1], flipBase64(lines[2], 4), ...lines.slice(3)].join('\n');
  await refused(verifyReceipt(rerooted, keys), 'signature');
  // Without the witness's line, or with it altered.
  const witnessLine = lines.findIndex((l) => l.startsWith('\u2014 vidkryto-association '));
  assert.ok(witnessLine > 0);
  const uncosigned = copy();
  uncosigned.checkpoint = lines.filter((_, i) => i !== witnessLine).join('\n');
  await refused(verifyReceipt(uncosigned, keys), 'cosignature');
  const forged = copy();
  const line = lines[witnessLine];
  forged.checkpoint = lines.map((l, i) => (i === witnessLine ? flipBase64(line, line.length - 10) : l)).join('\n');
  await refused(verifyReceipt(forged, keys), 'cosignature');
  // The keys swapped: the witness's key does not sign the node's checkpoints.
  await refused(verifyReceipt(copy(), { nodeKey: keys.witnessKey, witnessKey: keys.nodeKey }), 'origin');
});

test('a receipt of another hromada, or with keys that are not keys, is refused', async () => {
  const elsewhere = copy();
  elsewhere.origin = 'vidkryto/UA05020030000031457';
  await refused(verifyReceipt(elsewhere, keys), 'origin');
  const [, name, hash, key] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(keys.nodeKey);
  await refused(verifyReceipt(copy(), { ...keys, nodeKey: `${name}+00000000+${key}` }), 'key');
  await refused(verifyReceipt(copy(), { ...keys, nodeKey: `${name}+${hash}` }), 'key');
  await refused(verifyReceipt(copy(), { ...keys, nodeKey: `vidkryto/UA05020030000031457+${hash}+${key}` }), 'key');
});

test('what is not a receipt is refused with a reason, never a crash', async () => {
  for (const bad of [null, {}, { format: 'other' }, { ...copy(), seq: 0 }, { ...copy(), seq: '3' },
    { ...copy(), event: 'not base64!' }, { ...copy(), inclusion: 'x' },
    { ...copy(), checkpoint: 'no signatures\n' }, { ...copy(), checkpoint: 'x'.repeat(20_000) },
    { ...copy(), inclusion: Array(65).fill(copy().inclusion[0]) }]) {
    await assert.rejects(verifyReceipt(bad, keys), ReceiptError);
  }
});
