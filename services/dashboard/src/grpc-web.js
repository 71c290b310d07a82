// A small gRPC-Web client over fetch (binary `application/grpc-web+proto`), for unary calls
// and server streams. A gRPC-Web body is a sequence of frames: one flag byte, a 4-byte
// big-endian length, then that many bytes. Flag 0x00 carries a message; flag 0x80 carries the
// trailers as HTTP/1 header lines (`grpc-status`, `grpc-message`). An error with no message
// may come as a "trailers-only" response instead, with `grpc-status` in the HTTP headers.
// Frames are parsed as bytes arrive, so a stream's messages are delivered one by one.

/** The largest frame accepted (the biggest answer, 500 hromadas' figures, is well under). */
export const FRAME_SIZE_MAX = 16 * 1024 * 1024;
/** Time allowed for a unary call, headers to trailers. */
export const UNARY_TIMEOUT_MS = 30_000;

const FLAG_COMPRESSED = 0x01;
const FLAG_TRAILERS = 0x80;

/** gRPC status codes by number, for messages. */
const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** A call that ended with a gRPC status other than OK (or never got one). */
export class GrpcError extends Error {
  constructor(code, message) {
    super(`${CODE_NAMES[code] ?? `status ${code}`}: ${message}`);
    this.name = 'GrpcError';
    this.code = code;
    this.grpcMessage = message;
  }
}

const UNKNOWN = 2;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;
const UNAVAILABLE = 14;

function frame(message) {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length, false);
  out.set(message, 5);
  return out;
}

/** Parses trailer lines (`name: value` separated by CRLF) into a lowercase-keyed map. */
export function parseTrailers(bytes) {
  const text = new TextDecoder().decode(bytes);
  const trailers = new Map();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return trailers;
}

function statusError(statusText, messageText) {
  const code = Number.parseInt(statusText, 10);
  let message = messageText ?? '';
  try {
    message = decodeURIComponent(message);
  } catch {
    // not percent-encoded after all: keep it as it came
  }
  return new GrpcError(Number.isInteger(code) ? code : UNKNOWN, message);
}

/**
 * Splits a growing byte stream into frames. `push` takes the next chunk and returns the frames
 * it completed.
 */
export class FrameReader {
  constructor(frameSizeMax = FRAME_SIZE_MAX) {
    this.buffer = new Uint8Array(0);
    this.frameSizeMax = frameSizeMax;
  }

  push(chunk) {
    if (this.buffer.length === 0) {
      this.buffer = chunk;
    } else {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer, 0);
      joined.set(chunk, this.buffer.length);
      this.buffer = joined;
    }
    const frames = [];
    let offset = 0;
    while (this.buffer.length - offset >= 5) {
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + offset, 5);
      const flags = view.getUint8(0);
      const length = view.getUint32(1, false);
      if (length > this.frameSizeMax) {
        throw new GrpcError(RESOURCE_EXHAUSTED, `frame of ${length} bytes exceeds ${this.frameSizeMax}`);
      }
      if (this.buffer.length - offset - 5 < length) break;
      frames.push({ flags, payload: this.buffer.slice(offset + 5, offset + 5 + length) });
      offset += 5 + length;
    }
    this.buffer = this.buffer.slice(offset);
    return frames;
  }

  /** Bytes received that do not form a whole frame yet. */
  get pending() {
    return this.buffer.length;
  }
}

/**
 * Calls `path` (`/package.Service/Method`) with one encoded request message; `onMessage` gets
 * each response message's bytes as it arrives. Resolves when the trailers say OK; rejects
 * with a GrpcError otherwise. `signal` aborts the call.
 */
export async function call(path, requestBytes, { onMessage, signal, timeoutMs } = {}) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (signal) {
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
  }
  const timer = timeoutMs ? setTimeout(abort, timeoutMs) : null;
  try {
    let response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: {
          'content-type': 'application/grpc-web+proto',
          accept: 'application/grpc-web+proto',
          'x-grpc-web': '1',
        },
        body: frame(requestBytes),
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch (e) {
      throw controller.signal.aborted && !signal?.aborted
        ? new GrpcError(DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)
        : new GrpcError(UNAVAILABLE, `request failed: ${e.message}`);
    }
    if (response.status !== 200) {
      throw new GrpcError(UNAVAILABLE, `HTTP ${response.status}`);
    }
    const headerStatus = response.headers.get('grpc-status');
    if (headerStatus !== null && headerStatus !== '0') {
      throw statusError(headerStatus, response.headers.get('grpc-message'));
    }
    const reader = response.body.getReader();
    const frames = new FrameReader();
    let trailers = null;
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw controller.signal.aborted && !signal?.aborted
          ? new GrpcError(DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)
          : new GrpcError(UNAVAILABLE, `stream broke: ${e.message}`);
      }
      if (chunk.done) break;
      for (const { flags, payload } of frames.push(chunk.value)) {
        if (trailers) throw new GrpcError(INTERNAL, 'a frame after the trailers');
        if (flags & FLAG_TRAILERS) {
          trailers = parseTrailers(payload);
        } else if (flags & FLAG_COMPRESSED) {
          throw new GrpcError(INTERNAL, 'a compressed message, but none was asked for');
        } else {
          onMessage?.(payload);
        }
      }
    }
    // A trailers-only answer carries its status in the headers.
    if (!trailers && headerStatus === '0') trailers = new Map([['grpc-status', '0']]);
    if (frames.pending) throw new GrpcError(INTERNAL, `${frames.pending} bytes of a cut frame`);
    if (!trailers) throw new GrpcError(UNAVAILABLE, 'the stream ended without a status');
    const status = trailers.get('grpc-status');
    if (status !== '0') throw statusError(status ?? '2', trailers.get('grpc-message'));
  } finally {
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', abort);
  }
}

/** A unary call: the one response message's bytes. */
export async function unary(path, requestBytes, { signal, timeoutMs = UNARY_TIMEOUT_MS } = {}) {
  const messages = [];
  await call(path, requestBytes, { signal, timeoutMs, onMessage: (m) => messages.push(m) });
  if (messages.length !== 1) {
    throw new GrpcError(INTERNAL, `a unary call answered ${messages.length} messages`);
  }
  return messages[0];
}
