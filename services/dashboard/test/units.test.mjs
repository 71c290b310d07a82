// Unit tests of the dashboard's browser-independent parts, under Node's test runner
// (`node --test services/dashboard/test/`; tests/system/tests/dashboard.rs runs them): the shared
// gRPC-Web client (rpc.js) over a scripted fetch, its plain objects, CSV quoting, and the routes.

import assert from 'node:assert/strict';
import test from 'node:test';

import { create, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

import { csvField, toCsv } from '../src/csv.js';
import { setLanguage } from '../src/i18n.js';
import { concat } from '../src/receipt.js';
import { href, parseHash } from '../src/route.js';
import { Code, ConnectError, plain, serviceClient } from '../src/rpc.js';

/** FieldDescriptorProto types and labels used below. */
const T = { INT64: 3, UINT64: 4, BOOL: 8, STRING: 9, MESSAGE: 11, BYTES: 12, UINT32: 13, ENUM: 14 };
const OPTIONAL = 1;
const REPEATED = 3;

/** A small API: `t.Item` with every kind of field the client must read, and `t.S`. */
const registry = createFileRegistry(create(FileDescriptorSetSchema, {
  file: [{
    name: 't.proto',
    package: 't',
    syntax: 'proto3',
    enumType: [{ name: 'Status', value: [{ name: 'STATUS_UNSPECIFIED', number: 0 }, { name: 'STATUS_OPEN', number: 1 }] }],
    messageType: [
      { name: 'Req', field: [{ name: 'code', number: 1, type: T.STRING, label: OPTIONAL, jsonName: 'code' }] },
      {
        name: 'Item',
        field: [
          { name: 'events_verified', number: 1, type: T.UINT64, label: OPTIONAL, jsonName: 'eventsVerified' },
          { name: 'status', number: 2, type: T.ENUM, typeName: '.t.Status', label: OPTIONAL, jsonName: 'status' },
          { name: 'root', number: 3, type: T.BYTES, label: OPTIONAL, jsonName: 'root' },
          { name: 'children', number: 4, type: T.MESSAGE, typeName: '.t.Req', label: REPEATED, jsonName: 'children' },
          { name: 'parent', number: 5, type: T.MESSAGE, typeName: '.t.Req', label: OPTIONAL, jsonName: 'parent' },
          { name: 'note', number: 6, type: T.STRING, label: OPTIONAL, proto3Optional: true, oneofIndex: 0, jsonName: 'note' },
          { name: 'statuses', number: 7, type: T.ENUM, typeName: '.t.Status', label: REPEATED, jsonName: 'statuses' },
          { name: 'delta', number: 8, type: T.INT64, label: OPTIONAL, jsonName: 'delta' },
        ],
        oneofDecl: [{ name: '_note' }],
      },
    ],
    service: [{
      name: 'S',
      method: [
        { name: 'Get', inputType: '.t.Req', outputType: '.t.Item' },
        { name: 'Watch', inputType: '.t.Req', outputType: '.t.Item', serverStreaming: true },
      ],
    }],
  }],
}));
const Item = registry.getMessage('t.Item');

/** A gRPC-Web frame. */
function frame(flags, payload) {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length, false);
  out.set(bytes, 5);
  return out;
}

/** `t.Item` `{ eventsVerified: n }` on the wire. */
function item(n) {
  return Uint8Array.of(8, n);
}

/** Makes `fetch` answer with `body` cut into chunks of `chunk` bytes, and `headers`. */
function scriptFetch(body, { chunk = 3, headers = {}, status = 200 } = {}) {
  const requests = [];
  globalThis.fetch = async (url, init) => {
    requests.push({ url: String(url), init });
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += chunk) controller.enqueue(body.slice(i, i + chunk));
        controller.close();
      },
    });
    return new Response(stream, { status, headers: { 'content-type': 'application/grpc-web+proto', ...headers } });
  };
  return requests;
}

const client = () => serviceClient(registry, 't.S', 'http://association.test');

test('a message reads as a plain object: numbers, enum names, hex, defaults, unset optionals left out', () => {
  const message = create(Item, {
    eventsVerified: 1527n, status: 1, root: Uint8Array.of(0, 171), children: [{ code: 'UA1' }], statuses: [0, 1], delta: -2n,
  });
  assert.deepEqual(plain(Item, message), {
    eventsVerified: 1527, status: 'STATUS_OPEN', root: '00ab', children: [{ code: 'UA1' }],
    parent: null, statuses: ['STATUS_UNSPECIFIED', 'STATUS_OPEN'], delta: -2,
  });
  assert.equal(plain(Item, create(Item, { note: '' })).note, '', 'a set optional is kept, even empty');
});

test('a unary call sends one frame and reads its reply, across chunks', async () => {
  const requests = scriptFetch(concat(frame(0, item(7)), frame(0x80, 'grpc-status: 0\r\n')));
  const reply = await client().get({ code: 'UA1' });
  assert.equal(plain(Item, reply).eventsVerified, 7);
  const { url, init } = requests[0];
  assert.equal(url, 'http://association.test/t.S/Get');
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, 'omit', 'no cookie goes to another origin');
  assert.equal(new Headers(init.headers).get('content-type'), 'application/grpc-web+proto');
});

test('a server stream delivers each message, then checks the status', async () => {
  scriptFetch(concat(frame(0, item(1)), frame(0, item(2)), frame(0x80, 'grpc-status: 0\r\n')));
  const seen = [];
  for await (const m of client().watch({})) seen.push(plain(Item, m).eventsVerified);
  assert.deepEqual(seen, [1, 2]);
});

test('an error status in the trailers or the headers rejects with its code and message', async () => {
  scriptFetch(frame(0x80, 'grpc-status: 5\r\ngrpc-message: no%20hromada%20UA1\r\n'));
  await assert.rejects(client().get({}), (e) => e instanceof ConnectError && e.code === Code.NotFound && e.rawMessage === 'no hromada UA1');
  scriptFetch(new Uint8Array(), { headers: { 'grpc-status': '3', 'grpc-message': 'bad%20area' } });
  await assert.rejects(client().get({}), (e) => e.code === Code.InvalidArgument && e.rawMessage === 'bad area');
});

test('a cut stream, a missing status or an HTTP error is never success', async () => {
  for (const [body, options] of [
    [frame(0, item(1)).slice(0, 6), {}],
    [frame(0, item(1)), {}],
    [new Uint8Array(), { status: 400 }],
    [concat(frame(0, item(1)), frame(0, item(2)), frame(0x80, 'grpc-status: 0\r\n')), {}],
  ]) {
    scriptFetch(body, options);
    await assert.rejects(client().get({}), ConnectError);
  }
});

test('CSV fields are quoted per RFC 4180 and the file starts with a BOM', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(null), '');
  // Text a spreadsheet would run as a formula is defused; numbers are not.
  assert.equal(csvField('=HYPERLINK("http://x")'), '"\'=HYPERLINK(""http://x"")"');
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('-3'), '-3');
  assert.equal(csvField('+2.5'), '+2.5');
  assert.equal(toCsv(['Громада', 'n'], [['Вінницька', 3]]), '\uFEFFГромада,n\r\nВінницька,3\r\n');
});

test('routes carry the view, its argument, its choices and the language', () => {
  const route = parseHash('#/hromada/UA05020030000031457?weeks=26&lang=en');
  assert.equal(route.view, 'hromada');
  assert.equal(route.arg, 'UA05020030000031457');
  assert.equal(route.params.get('weeks'), '26');
  assert.equal(parseHash('').view, 'overview');
  setLanguage('uk');
  assert.equal(href('/leaderboard', { metric: 'signatures_per_10k', oblast: '' }), '#/leaderboard?metric=signatures_per_10k');
  assert.equal(href('/oblasts', {}, 'en'), '#/oblasts?lang=en');
});
