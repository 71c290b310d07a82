// A small protobuf codec for the dashboard, driven by the JSON descriptor the build generates
// from the .proto files (`pbjs -t json`). It interprets the descriptor instead of generating
// code, so the page needs no `eval` and its Content-Security-Policy can forbid it.
//
// What the APIs use, and no more: proto3 scalars (int32, int64, uint32, uint64, sint32,
// sint64, fixed32, fixed64, sfixed32, sfixed64, bool, double, float, string, bytes), enums,
// nested messages, repeated fields (packed or not) and proto3 `optional`. Unknown fields are
// skipped. Decoded messages are plain objects: every field present with its default (0, '',
// false, the enum's zero name, [] for repeated, null for a message), except an absent
// `optional`; 64-bit integers as numbers, enums as names, bytes as lowercase hex.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Nesting depth decoded at most: the APIs nest three deep; anything far deeper is garbage. */
const DEPTH_MAX = 32;

const SCALARS = {
  int32: WIRE_VARINT, int64: WIRE_VARINT, uint32: WIRE_VARINT, uint64: WIRE_VARINT,
  sint32: WIRE_VARINT, sint64: WIRE_VARINT, bool: WIRE_VARINT,
  fixed32: WIRE_FIXED32, sfixed32: WIRE_FIXED32, float: WIRE_FIXED32,
  fixed64: WIRE_FIXED64, sfixed64: WIRE_FIXED64, double: WIRE_FIXED64,
  string: WIRE_LEN, bytes: WIRE_LEN,
};

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export class ProtoError extends Error {}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function fromHex(text) {
  if (typeof text !== 'string' || text.length % 2 !== 0 || /[^0-9a-f]/i.test(text)) {
    throw new ProtoError(`not hex bytes: ${String(text).slice(0, 40)}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Reads protobuf wire data from a byte array. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  done() {
    return this.at >= this.bytes.length;
  }

  need(n) {
    if (this.at + n > this.bytes.length) throw new ProtoError('truncated message');
  }

  /** A varint as BigInt (up to 64 bits; longer or unterminated is an error). */
  varint() {
    let value = 0n;
    for (let i = 0; i < 10; i += 1) {
      this.need(1);
      const byte = this.bytes[this.at];
      this.at += 1;
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, value);
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  length() {
    const n = this.varint();
    if (n > BigInt(this.bytes.length - this.at)) throw new ProtoError('truncated message');
    return Number(n);
  }

  take(n) {
    this.need(n);
    const slice = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return slice;
  }

  fixed32() {
    this.need(4);
    const at = this.at;
    this.at += 4;
    return at;
  }

  fixed64() {
    this.need(8);
    const at = this.at;
    this.at += 8;
    return at;
  }

  skip(wire) {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.fixed64();
    else if (wire === WIRE_LEN) this.take(this.length());
    else if (wire === WIRE_FIXED32) this.fixed32();
    else throw new ProtoError(`unsupported wire type ${wire}`);
  }
}

/** Writes protobuf wire data. */
class Writer {
  constructor() {
    this.parts = [];
    this.size = 0;
  }

  push(bytes) {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    const out = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  tag(id, wire) {
    this.varint((BigInt(id) << 3n) | BigInt(wire));
  }

  lengthDelimited(bytes) {
    this.varint(bytes.length);
    this.push(bytes);
  }

  fixed(size, set) {
    const bytes = new Uint8Array(size);
    set(new DataView(bytes.buffer));
    this.push(bytes);
  }

  finish() {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** A scalar's value from the wire, as the page sees it. */
function readScalar(type, reader, wire) {
  const expected = SCALARS[type];
  if (wire !== expected) throw new ProtoError(`${type} sent with wire type ${wire}`);
  const view = reader.view;
  switch (type) {
    case 'int32': return Number(BigInt.asIntN(32, reader.varint()));
    case 'uint32': return Number(BigInt.asUintN(32, reader.varint()));
    case 'int64': return Number(BigInt.asIntN(64, reader.varint()));
    case 'uint64': return Number(reader.varint());
    case 'sint32':
    case 'sint64': {
      const n = reader.varint();
      const value = (n >> 1n) ^ -(n & 1n);
      return Number(type === 'sint32' ? BigInt.asIntN(32, value) : BigInt.asIntN(64, value));
    }
    case 'bool': return reader.varint() !== 0n;
    case 'fixed32': return view.getUint32(reader.fixed32(), true);
    case 'sfixed32': return view.getInt32(reader.fixed32(), true);
    case 'float': return view.getFloat32(reader.fixed32(), true);
    case 'fixed64': return Number(view.getBigUint64(reader.fixed64(), true));
    case 'sfixed64': return Number(view.getBigInt64(reader.fixed64(), true));
    case 'double': return view.getFloat64(reader.fixed64(), true);
    case 'string': {
      try {
        return utf8Decoder.decode(reader.take(reader.length()));
      } catch (e) {
        if (e instanceof ProtoError) throw e;
        throw new ProtoError('a string is not UTF-8');
      }
    }
    case 'bytes': return hex(reader.take(reader.length()));
    default: throw new ProtoError(`unknown scalar ${type}`);
  }
}

function scalarDefault(type) {
  if (type === 'bool') return false;
  if (type === 'string' || type === 'bytes') return '';
  return 0;
}

function writeScalar(type, writer, value) {
  switch (type) {
    case 'int32': case 'int64': case 'uint32': case 'uint64':
      writer.varint(BigInt(Math.trunc(value)));
      return;
    case 'sint32': case 'sint64': {
      const n = BigInt(Math.trunc(value));
      writer.varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
      return;
    }
    case 'bool': writer.varint(value ? 1n : 0n); return;
    case 'fixed32': writer.fixed(4, (v) => v.setUint32(0, value, true)); return;
    case 'sfixed32': writer.fixed(4, (v) => v.setInt32(0, value, true)); return;
    case 'float': writer.fixed(4, (v) => v.setFloat32(0, value, true)); return;
    case 'fixed64': writer.fixed(8, (v) => v.setBigUint64(0, BigInt(value), true)); return;
    case 'sfixed64': writer.fixed(8, (v) => v.setBigInt64(0, BigInt(value), true)); return;
    case 'double': writer.fixed(8, (v) => v.setFloat64(0, value, true)); return;
    case 'string': writer.lengthDelimited(utf8Encoder.encode(value)); return;
    case 'bytes': writer.lengthDelimited(fromHex(value)); return;
    default: throw new ProtoError(`unknown scalar ${type}`);
  }
}

/** Why `value` cannot be a `type` scalar, or null. */
function scalarProblem(type, value) {
  switch (type) {
    case 'bool': return typeof value === 'boolean' ? null : 'a boolean';
    case 'string': return typeof value === 'string' ? null : 'a string';
    case 'bytes': return typeof value === 'string' && /^([0-9a-f]{2})*$/i.test(value) ? null : 'hex bytes';
    case 'double': case 'float': return typeof value === 'number' ? null : 'a number';
    default: {
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'an integer';
      const unsigned = type.startsWith('uint') || type === 'fixed32' || type === 'fixed64';
      const bits = type.endsWith('32') ? 32 : 64;
      const min = unsigned ? 0 : -(2 ** (bits - 1));
      const max = unsigned ? 2 ** bits - 1 : 2 ** (bits - 1) - 1;
      return value >= min && value <= max ? null : `an integer in ${min}..${max}`;
    }
  }
}

class Enum {
  constructor(name, values) {
    this.name = name;
    this.values = values;
    this.names = new Map(Object.entries(values).map(([k, v]) => [v, k]));
  }

  /** The name of a number; a number the schema does not know stays a number, as protobuf's
   * open enums require. */
  nameOf(number) {
    return this.names.get(number) ?? number;
  }

  numberOf(value) {
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (Object.hasOwn(this.values, value)) return this.values[value];
    throw new ProtoError(`${this.name} has no value ${value}`);
  }
}

export class MessageType {
  constructor(name) {
    this.name = name;
    /** Resolved fields: { name, id, type, repeated, optional, kind, resolved }. */
    this.fields = [];
    this.byId = new Map();
    this.byName = new Map();
  }

  decode(bytes, depth = 0) {
    if (depth > DEPTH_MAX) throw new ProtoError('messages nested too deeply');
    const reader = bytes instanceof Reader ? bytes : new Reader(bytes);
    const out = {};
    for (const field of this.fields) {
      if (field.repeated) out[field.name] = [];
      else if (field.optional) continue;
      else if (field.kind === 'message') out[field.name] = null;
      else if (field.kind === 'enum') out[field.name] = field.resolved.nameOf(0);
      else out[field.name] = scalarDefault(field.type);
    }
    while (!reader.done()) {
      const key = reader.varint();
      const id = Number(key >> 3n);
      const wire = Number(key & 7n);
      const field = this.byId.get(id);
      if (!field) {
        reader.skip(wire);
        continue;
      }
      const one = (r, w) => {
        if (field.kind === 'message') {
          if (w !== WIRE_LEN) throw new ProtoError(`${field.name} sent with wire type ${w}`);
          return field.resolved.decode(new Reader(r.take(r.length())), depth + 1);
        }
        if (field.kind === 'enum') {
          return field.resolved.nameOf(readScalar('int32', r, w));
        }
        return readScalar(field.type, r, w);
      };
      const packable = field.kind === 'enum'
        || (field.kind === 'scalar' && SCALARS[field.type] !== WIRE_LEN);
      if (field.repeated && packable && wire === WIRE_LEN) {
        const packed = new Reader(reader.take(reader.length()));
        const itemWire = field.kind === 'enum' ? WIRE_VARINT : SCALARS[field.type];
        while (!packed.done()) out[field.name].push(one(packed, itemWire));
      } else if (field.repeated) {
        out[field.name].push(one(reader, wire));
      } else if (field.kind === 'message' && out[field.name]) {
        // A message sent twice merges; the APIs never do, so the later one simply wins here.
        out[field.name] = one(reader, wire);
      } else {
        out[field.name] = one(reader, wire);
      }
    }
    return out;
  }

  /** Why `object` is not a valid message of this type (unknown fields, wrong types), or null. */
  verify(object, depth = 0) {
    if (depth > DEPTH_MAX) return 'nested too deeply';
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      return `${this.name} must be an object`;
    }
    for (const [name, value] of Object.entries(object)) {
      const field = this.byName.get(name);
      if (!field) return `${this.name} has no field ${name}`;
      if (value == null) continue;
      const items = field.repeated ? value : [value];
      if (field.repeated && !Array.isArray(value)) return `${name}: an array expected`;
      for (const item of items) {
        let problem = null;
        if (field.kind === 'message') problem = field.resolved.verify(item, depth + 1);
        else if (field.kind === 'enum') {
          try {
            field.resolved.numberOf(item);
          } catch (e) {
            problem = e.message;
          }
        } else {
          const expected = scalarProblem(field.type, item);
          if (expected) problem = `${expected} expected`;
        }
        if (problem) return `${name}: ${problem}`;
      }
    }
    return null;
  }

  /** The wire bytes of `object` (call `verify` first); defaults are not written. */
  encode(object, writer = new Writer()) {
    for (const field of this.fields) {
      const value = object[field.name];
      if (value == null) continue;
      if (field.repeated) {
        const packable = field.kind === 'enum'
          || (field.kind === 'scalar' && SCALARS[field.type] !== WIRE_LEN);
        if (value.length === 0) continue;
        if (packable) {
          const inner = new Writer();
          for (const item of value) this.writeOne(field, inner, item);
          writer.tag(field.id, WIRE_LEN);
          writer.lengthDelimited(inner.finish());
        } else {
          for (const item of value) {
            this.writeTagged(field, writer, item);
          }
        }
      } else if (field.optional || !isDefault(field, value)) {
        this.writeTagged(field, writer, value);
      }
    }
    return writer.finish();
  }

  writeTagged(field, writer, value) {
    const wire = field.kind === 'message' ? WIRE_LEN
      : field.kind === 'enum' ? WIRE_VARINT : SCALARS[field.type];
    writer.tag(field.id, wire);
    this.writeOne(field, writer, value);
  }

  writeOne(field, writer, value) {
    if (field.kind === 'message') writer.lengthDelimited(field.resolved.encode(value));
    else if (field.kind === 'enum') writer.varint(BigInt(field.resolved.numberOf(value)));
    else writeScalar(field.type, writer, value);
  }
}

function isDefault(field, value) {
  if (field.kind === 'message') return false;
  if (field.kind === 'enum') return field.resolved.numberOf(value) === 0;
  return value === scalarDefault(field.type);
}

/** Every type and service of a `pbjs -t json` descriptor, with field types resolved. */
export class Schema {
  constructor(descriptor) {
    this.types = new Map();
    this.services = new Map();
    const pending = [];
    const visit = (node, path) => {
      for (const [name, child] of Object.entries(node.nested ?? {})) {
        const full = path ? `${path}.${name}` : name;
        if (child.fields) {
          const type = new MessageType(full);
          this.types.set(full, type);
          pending.push([type, child, full]);
        } else if (child.values) {
          this.types.set(full, new Enum(full, child.values));
        } else if (child.methods) {
          this.services.set(full, { path, methods: child.methods });
        }
        visit(child, full);
      }
    };
    visit(descriptor, '');
    for (const [type, node, full] of pending) {
      for (const [name, spec] of Object.entries(node.fields)) {
        const field = {
          name,
          id: spec.id,
          type: spec.type,
          repeated: spec.rule === 'repeated',
          optional: Boolean(spec.options?.proto3_optional),
          kind: 'scalar',
          resolved: null,
        };
        if (!(spec.type in SCALARS)) {
          field.resolved = this.resolve(spec.type, full);
          field.kind = field.resolved instanceof Enum ? 'enum' : 'message';
        }
        type.fields.push(field);
        type.byId.set(field.id, field);
        type.byName.set(field.name, field);
      }
    }
  }

  /** The type `name` as seen from the scope `from` (innermost scope first). */
  resolve(name, from) {
    if (name.startsWith('.')) return this.lookup(name.slice(1));
    const scope = from.split('.');
    while (scope.length) {
      const found = this.types.get(`${scope.join('.')}.${name}`);
      if (found) return found;
      scope.pop();
    }
    return this.lookup(name);
  }

  lookup(full) {
    const found = this.types.get(full);
    if (!found) throw new ProtoError(`the descriptor has no type ${full}`);
    return found;
  }

  /** A service method's request and response types. */
  method(service, name) {
    const found = this.services.get(service);
    const method = found?.methods[name];
    if (!method) throw new ProtoError(`${service} has no ${name}`);
    return {
      requestType: this.resolve(method.requestType, service),
      responseType: this.resolve(method.responseType, service),
      responseStream: Boolean(method.responseStream),
    };
  }
}
