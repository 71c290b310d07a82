// The page's protobuf codec (src/protobuf.js) against protobufjs, on every message type of the
// APIs' real descriptor: random messages encoded by protobufjs decode to what protobufjs's own
// `toObject` gave the page before (defaults, 64-bit numbers, enum names, bytes as hex), and
// messages the codec encodes decode in protobufjs to the same. Broken input is a ProtoError.

import assert from 'node:assert/strict';
import test from 'node:test';

import protobuf from 'protobufjs';

import { apiDescriptor } from '../descriptor.mjs';
import { ProtoError, Schema } from '../src/protobuf.js';

const descriptor = apiDescriptor();
const schema = new Schema(descriptor);
const root = protobuf.Root.fromJSON(descriptor);
const TO_OBJECT = { longs: Number, enums: String, bytes: Array, defaults: true, arrays: true };
const SAMPLES_PER_TYPE = 40;

/** A deterministic generator (xorshift32), so a failure names a reproducible seed. */
function random(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
  };
}

const hexOf = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** protobufjs's view as the page had it: toObject, then every bytes field as hex. */
function bytesToHex(type, object) {
  for (const field of type.fieldsArray) {
    const value = object[field.name];
    if (value == null) continue;
    if (field.type === 'bytes') {
      object[field.name] = field.repeated ? value.map(hexOf) : hexOf(value);
    } else if (field.resolvedType && field.resolvedType.fieldsArray) {
      const nested = field.resolvedType;
      if (field.repeated) value.forEach((v) => bytesToHex(nested, v));
      else bytesToHex(nested, value);
    }
  }
  return object;
}

function scalar(type, rnd) {
  switch (type) {
    case 'string': return rnd.chance(0.2) ? '' : ['Вінниця', 'Kyiv', 'Одеса 🌊', 'a"b\\c'][rnd.int(0, 3)];
    case 'bool': return rnd.chance(0.5);
    case 'double': return rnd.chance(0.2) ? 0 : (rnd.next() - 0.5) * 10 ** rnd.int(0, 12);
    case 'bytes': return hexOf(Array.from({ length: rnd.int(0, 32) }, () => rnd.int(0, 255)));
    case 'uint32': return rnd.chance(0.2) ? 0 : rnd.int(0, 2 ** 32 - 1);
    case 'int32': return rnd.chance(0.2) ? 0 : rnd.int(-(2 ** 31), 2 ** 31 - 1);
    case 'uint64': return rnd.chance(0.2) ? 0 : Math.floor(rnd.next() * Number.MAX_SAFE_INTEGER);
    case 'int64': return Math.floor((rnd.next() - 0.5) * Number.MAX_SAFE_INTEGER);
    default: throw new Error(`no generator for ${type}`);
  }
}

/** A random message of `type` in the page's form (enums as names, bytes as hex). */
function sample(type, rnd, depth = 0) {
  const out = {};
  for (const field of type.fields) {
    if (field.optional && rnd.chance(0.5)) continue;
    const one = () => {
      if (field.kind === 'message') return sample(field.resolved, rnd, depth + 1);
      if (field.kind === 'enum') {
        const names = Object.keys(field.resolved.values);
        return names[rnd.int(0, names.length - 1)];
      }
      return scalar(field.type, rnd);
    };
    if (field.repeated) {
      out[field.name] = depth > 2 ? [] : Array.from({ length: rnd.int(0, 3) }, one);
    } else if (field.kind === 'message') {
      if (depth <= 2 && rnd.chance(0.7)) out[field.name] = one();
    } else {
      out[field.name] = one();
    }
  }
  return out;
}

/** The same message as protobufjs's fromObject takes it (bytes as byte arrays). */
function forProtobufjs(type, object) {
  const out = {};
  for (const field of type.fields) {
    const value = object[field.name];
    if (value === undefined) continue;
    const convert = (v) => {
      if (field.kind === 'message') return forProtobufjs(field.resolved, v);
      if (field.type === 'bytes') return Uint8Array.from(v.match(/../g) ?? [], (h) => parseInt(h, 16));
      return v;
    };
    out[field.name] = field.repeated ? value.map(convert) : convert(value);
  }
  return out;
}

const messageNames = [...schema.types.entries()]
  .filter(([, type]) => type.fields)
  .map(([name]) => name);

test('the descriptor has every API message type', () => {
  assert.ok(messageNames.length >= 30, `${messageNames.length} types`);
  assert.ok(messageNames.includes('vidkryto.national.v1.Figures'));
  assert.ok(messageNames.includes('vidkryto.national.v1.AnswerDays.Bucket'));
});

for (const name of messageNames) {
  test(`${name}: decodes and encodes as protobufjs does`, () => {
    const ours = schema.types.get(name);
    const theirs = root.lookupType(name);
    let seed = 0;
    for (const ch of name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
    const rnd = random(seed);
    for (let i = 0; i < SAMPLES_PER_TYPE; i += 1) {
      const message = sample(ours, rnd);
      const context = `${name} sample ${i}: ${JSON.stringify(message).slice(0, 300)}`;
      assert.equal(ours.verify(message), null, context);
      // protobufjs encodes, we decode.
      const wire = theirs.encode(theirs.fromObject(forProtobufjs(ours, message))).finish();
      const expected = bytesToHex(theirs, theirs.toObject(theirs.decode(wire), TO_OBJECT));
      assert.deepEqual(ours.decode(wire), expected, context);
      // We encode, protobufjs decodes.
      const back = theirs.toObject(theirs.decode(ours.encode(message)), TO_OBJECT);
      assert.deepEqual(bytesToHex(theirs, back), expected, context);
    }
  });
}

test('an empty message decodes to every default, and an absent optional stays absent', () => {
  const figures = schema.types.get('vidkryto.national.v1.Figures').decode(new Uint8Array());
  assert.equal(figures.petitionsFiled, 0);
  assert.deepEqual(figures.dialoguesByKind, []);
  assert.ok(!('medianDaysToAnswer' in figures));
  const node = schema.types.get('vidkryto.federation.v1.Node').decode(new Uint8Array());
  assert.equal(node.status, 'NODE_STATUS_UNSPECIFIED');
  assert.equal(node.checkpointRoot, '');
  const municipality = schema.types.get('vidkryto.national.v1.Municipality')
    .decode(new Uint8Array());
  assert.equal(municipality.figures, null);
});

test('broken bytes are a ProtoError, never another exception', () => {
  const type = schema.types.get('vidkryto.national.v1.Municipality');
  const theirs = root.lookupType('vidkryto.national.v1.Municipality');
  const rnd = random(7);
  const wire = theirs.encode(theirs.fromObject(forProtobufjs(type, sample(type, rnd)))).finish();
  // Every truncation of a valid message either decodes (a field boundary) or is a ProtoError.
  for (let cut = 0; cut < wire.length; cut += 1) {
    try {
      type.decode(wire.subarray(0, cut));
    } catch (e) {
      assert.ok(e instanceof ProtoError, `cut at ${cut}: ${e}`);
    }
  }
  // Random bytes likewise.
  for (let i = 0; i < 2000; i += 1) {
    const bytes = Uint8Array.from({ length: rnd.int(0, 64) }, () => rnd.int(0, 255));
    try {
      type.decode(bytes);
    } catch (e) {
      assert.ok(e instanceof ProtoError, `${hexOf(bytes)}: ${e}`);
    }
  }
  assert.throws(() => type.decode(Uint8Array.of(0x0a, 0x05, 0x41)), ProtoError);
  assert.throws(() => type.decode(Uint8Array.of(0x08, 0xff)), ProtoError);
  assert.throws(() => type.decode(Uint8Array.of(0x0a, 0x02, 0xc3, 0x28)), ProtoError);
});

test('verify names what is wrong with a request', () => {
  const request = schema.types.get('vidkryto.national.v1.ListMunicipalitiesRequest');
  assert.equal(request.verify({ pageSize: 500, oblast: '', enrolledOnly: true }), null);
  assert.match(request.verify({ pageSize: 'many' }), /pageSize: an integer/);
  assert.match(request.verify({ pageSize: 2 ** 31 }), /pageSize: an integer in/);
  assert.match(request.verify({ colour: 'red' }), /no field colour/);
  const nodes = schema.types.get('vidkryto.federation.v1.ListNodesRequest');
  assert.match(nodes.verify({ status: 'NODE_STATUS_SLEEPY' }), /no value NODE_STATUS_SLEEPY/);
  assert.throws(() => schema.method('vidkryto.national.v1.NationalService', 'Nope'), ProtoError);
});
