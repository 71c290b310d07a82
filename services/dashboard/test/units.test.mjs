// Unit tests of the dashboard's browser-independent parts, under Node's test runner
// (`node --test services/dashboard/test/`; tests/system/tests/dashboard.rs runs them): the
// gRPC-Web framing and status handling over a scripted fetch, CSV quoting, and the routes.

import assert from 'node:assert/strict';
import test from 'node:test';

import { FrameReader, GrpcError, call, parseTrailers, unary } from '../src/grpc-web.js';
import { csvField, toCsv } from '../src/csv.js';
import { parseHash, href } from '../src/route.js';
import { setLanguage } from '../src/i18n.js';
import { concat } from '../src/receipt.js';

function frame(flags, payload) {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length, false);
  out.set(bytes, 5);
  return out;
}


/** Makes `fetch` answer with `body` cut into chunks of `chunk` bytes, and `headers`. */
function scriptFetch(body, { chunk = 3, headers = {}, status = 200 } = {}) {
  const requests = [];
  globalThis.fetch = async (path, init) => {
    requests.push({ path, init });
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += chunk) controller.enqueue(body.slice(i, i + chunk));
        controller.close();
      },
    });
    return new Response(stream, { status, headers });
  };
  return requests;
}

test('frames split across chunks come out whole, trailers flagged 0x80', () => {
  const reader = new FrameReader();
  const bytes = concat(frame(0, 'abc'), frame(0, ''), frame(0x80, 'grpc-status: 0\r\n'));
  const frames = [];
  for (let i = 0; i < bytes.length; i += 2) frames.push(...reader.push(bytes.slice(i, i + 2)));
  assert.deepEqual(frames.map((f) => [f.flags, new TextDecoder().decode(f.payload)]),
    [[0, 'abc'], [0, ''], [0x80, 'grpc-status: 0\r\n']]);
  assert.equal(reader.pending, 0);
});

test('a frame longer than the bound is refused before it is buffered', () => {
  const reader = new FrameReader(8);
  assert.throws(() => reader.push(frame(0, '123456789')), GrpcError);
});

test('trailers parse to a lowercase map', () => {
  const t = parseTrailers(new TextEncoder().encode('Grpc-Status: 5\r\ngrpc-message: no%20hromada\r\n'));
  assert.equal(t.get('grpc-status'), '5');
  assert.equal(t.get('grpc-message'), 'no%20hromada');
});

test('a server stream delivers each message as it arrives, then checks the status', async () => {
  const requests = scriptFetch(concat(frame(0, 'one'), frame(0, 'two'), frame(0x80, 'grpc-status:0\r\n')));
  const seen = [];
  await call('/svc/Method', new Uint8Array([8, 1]), { onMessage: (m) => seen.push(new TextDecoder().decode(m)) });
  assert.deepEqual(seen, ['one', 'two']);
  const { path, init } = requests[0];
  assert.equal(path, '/svc/Method');
  assert.equal(init.method, 'POST');
  assert.equal(init.headers['content-type'], 'application/grpc-web+proto');
  assert.deepEqual([...init.body], [0, 0, 0, 0, 2, 8, 1]);
});

test('an error status in the trailers or the headers rejects with its code and message', async () => {
  scriptFetch(frame(0x80, 'grpc-status: 5\r\ngrpc-message: no%20hromada%20UA1\r\n'));
  await assert.rejects(unary('/s/M', new Uint8Array()), (e) => e.code === 5 && e.grpcMessage === 'no hromada UA1');
  scriptFetch(new Uint8Array(), { headers: { 'grpc-status': '3', 'grpc-message': 'bad%20area' } });
  await assert.rejects(unary('/s/M', new Uint8Array()), (e) => e.code === 3 && e.grpcMessage === 'bad area');
});

test('a cut stream, a missing status or an HTTP error is never success', async () => {
  scriptFetch(frame(0, 'one').slice(0, 6));
  await assert.rejects(unary('/s/M', new Uint8Array()), /cut frame/);
  scriptFetch(frame(0, 'one'));
  await assert.rejects(unary('/s/M', new Uint8Array()), /without a status/);
  scriptFetch(new Uint8Array(), { status: 400 });
  await assert.rejects(unary('/s/M', new Uint8Array()), /HTTP 400/);
  scriptFetch(concat(frame(0x80, 'grpc-status: 0\r\n'), frame(0, 'late')));
  await assert.rejects(unary('/s/M', new Uint8Array()), /after the trailers/);
  scriptFetch(concat(frame(0, 'a'), frame(0, 'b'), frame(0x80, 'grpc-status: 0\r\n')));
  await assert.rejects(unary('/s/M', new Uint8Array()), /answered 2 messages/);
});

test('CSV fields are quoted per RFC 4180 and the file starts with a BOM', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(null), '');
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
