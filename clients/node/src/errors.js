// Errors of the Quantum API as JavaScript exceptions.
//
// The server answers every failure with a google.rpc.Status in the
// `grpc-status-details-bin` trailer: an ErrorInfo (domain "quantum.v1") whose `reason` is
// stable and machine-readable, and a BadRequest naming the field at fault when there is
// one. This module decodes that trailer with a tiny protobuf wire reader (no generated
// code needed) and turns a grpc-js ServiceError into a QuantumError.

import * as grpc from '@grpc/grpc-js';

/** The ErrorInfo domain the Quantum server uses. */
export const ERROR_DOMAIN = 'quantum.v1';

const TYPE_PREFIX = 'type.googleapis.com/';
const CODE_NAMES = Object.fromEntries(
  Object.entries(grpc.status).map(([name, value]) => [value, name]),
);

/** The name of a numeric gRPC status code, such as "NOT_FOUND". */
export function codeName(code) {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

/**
 * An error returned by the Quantum API (or raised by this client on its behalf).
 *
 * Fields:
 * - `code`: the numeric gRPC status code (compare with `status.NOT_FOUND` etc.);
 * - `codeName`: its name, such as "NOT_FOUND";
 * - `reason`: the ErrorInfo reason, such as "NETWORK_NOT_FOUND" ("" when the server sent
 *   none, e.g. a proxy's UNAVAILABLE);
 * - `domain`, `metadata`: the rest of the ErrorInfo (metadata is a plain object);
 * - `field`: the request field at fault (first BadRequest violation), else "";
 * - `details`: every decoded google.rpc.Status detail, `{ type, ... }`;
 * - `backendError`: `{ code, message }` of the back-end, for a resource that went to ERROR;
 * - `cause`: the original grpc-js error, when there is one.
 */
export class QuantumError extends Error {
  constructor(message, { code = grpc.status.UNKNOWN, reason = '', domain = '', metadata = {},
    field = '', details = [], backendError = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'QuantumError';
    this.code = code;
    this.codeName = codeName(code);
    this.reason = reason;
    this.domain = domain;
    this.metadata = metadata;
    this.field = field;
    this.details = details;
    this.backendError = backendError;
  }

  toString() {
    return `${this.name}: ${this.codeName}${this.reason ? ` ${this.reason}` : ''}: ${this.message}`;
  }
}

// What a cut transport surfaces as when no ErrorInfo of the server's domain says the server
// chose the status: a proxy's RST_STREAM (Envoy's route timeout, an upstream reset) is
// INTERNAL, an HTTP error page without grpc-status UNKNOWN, a peer's cancel CANCELLED.
const TRANSPORT_CUTS = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.CANCELLED]);
// Statuses the server ends a stream with for the client to resume: it fell behind.
const RESUMABLE_REASONS = new Set([`${grpc.status.RESOURCE_EXHAUSTED}:WATCH_LAGGING`]);

/**
 * Whether a watch resumes after its stream ended with `error` (a QuantumError). The same
 * rule as the Python SDK's `quantum_client.resumable`:
 * - any UNAVAILABLE (the server restarting or draining: SERVER_SHUTTING_DOWN; a proxy's 503);
 * - RESOURCE_EXHAUSTED with reason WATCH_LAGGING;
 * - INTERNAL, UNKNOWN or CANCELLED without an ErrorInfo of domain "quantum.v1": a cut
 *   connection. An INTERNAL carrying the server's ErrorInfo is a server bug (its metadata
 *   names the incident) and is not resumed;
 * - UNAUTHENTICATED with reason TOKEN_EXPIRED when `tokenRenewed`: the token source now
 *   gives another token than the one the stream carried (a rotated file, a refreshing
 *   function). Without a new token a resume would only be refused again.
 */
export function isResumable(error, { tokenRenewed = false } = {}) {
  if (error.code === grpc.status.UNAVAILABLE) return true;
  if (error.domain !== ERROR_DOMAIN) return TRANSPORT_CUTS.has(error.code);
  if (isTokenExpired(error)) return tokenRenewed;
  return RESUMABLE_REASONS.has(`${error.code}:${error.reason}`);
}

/** Whether the server refused the caller's token as expired (also mid-stream). */
export function isTokenExpired(error) {
  return error?.code === grpc.status.UNAUTHENTICATED && error.reason === 'TOKEN_EXPIRED';
}

/**
 * `error` with a hint appended when it is a failed TLS set-up, which grpc-js reports as a
 * bare UNAVAILABLE: an untrusted server certificate, TLS against a plaintext port, or the
 * server hanging up on a client without (or with a refused) certificate.
 */
export function withTlsHint(error, { tls, hasClientCert }) {
  if (error.code !== grpc.status.UNAVAILABLE || error.domain === ERROR_DOMAIN) return error;
  const text = error.message;
  let hint = '';
  if (/self[- ]signed|unable to (verify|get local issuer)|CERT_|certificate verify/i.test(text)) {
    hint = "the server's certificate is not trusted: give the CA that signed it (ca, QUANTUM_CA)";
  } else if (/wrong version number|packet length too long/i.test(text)) {
    hint = 'the server does not speak TLS here: use grpc://host:port (plaintext)';
  } else if (tls === false && /Connection dropped|Socket closed|ECONNRESET|Protocol error|GOAWAY/i.test(text)) {
    hint = 'if the server uses TLS, use grpcs://host:port (or tls: true) and its CA';
  } else if (tls && /certificate required|handshake failure|alert|ECONNRESET|Connection dropped|Socket closed|Last error: Failed to connect \(/i.test(text)) {
    // grpc-js says only "Failed to connect" when the server hangs up during the handshake.
    hint = hasClientCert
      ? 'the server ended the TLS set-up: it may not trust the client certificate'
      : 'the server ended the TLS set-up: it may require a client certificate (cert and key, QUANTUM_CERT and QUANTUM_KEY)';
  }
  if (hint) error.message = `${text} (${hint})`;
  return error;
}

/**
 * Turn a grpc-js ServiceError (or anything thrown by a call) into a QuantumError, decoding
 * the google.rpc.Status details of the `grpc-status-details-bin` trailer.
 */
export function fromServiceError(error) {
  if (error instanceof QuantumError) return error;
  if (error == null || typeof error.code !== 'number') {
    return new QuantumError(String(error?.message ?? error), { cause: error });
  }
  let details = [];
  let statusMessage = '';
  const raw = error.metadata?.get?.('grpc-status-details-bin') ?? [];
  if (raw.length > 0) {
    try {
      const decoded = decodeStatus(Buffer.from(raw[0]));
      details = decoded.details;
      statusMessage = decoded.message;
    } catch {
      // A malformed trailer must not hide the error itself.
    }
  }
  const info = details.find((d) => d.type === 'google.rpc.ErrorInfo' && d.domain === ERROR_DOMAIN)
    ?? details.find((d) => d.type === 'google.rpc.ErrorInfo');
  const bad = details.find((d) => d.type === 'google.rpc.BadRequest');
  return new QuantumError(error.details || statusMessage || codeName(error.code), {
    code: error.code,
    reason: info?.reason ?? '',
    domain: info?.domain ?? '',
    metadata: info?.metadata ?? {},
    field: bad?.fieldViolations?.[0]?.field ?? '',
    details,
    cause: error,
  });
}

// --- a minimal protobuf wire reader, enough for google.rpc.Status and its details -------

function readVarint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new RangeError('truncated varint');
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

/** The fields of one message: Map(fieldNumber -> [values]); LEN fields are Buffers. */
function readFields(buf) {
  const fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    let value;
    switch (wireType) {
      case 0: [value, pos] = readVarint(buf, pos); break;
      case 1: value = buf.subarray(pos, pos + 8); pos += 8; break;
      case 2: {
        let length;
        [length, pos] = readVarint(buf, pos);
        if (pos + length > buf.length) throw new RangeError('truncated field');
        value = buf.subarray(pos, pos + length);
        pos += length;
        break;
      }
      case 5: value = buf.subarray(pos, pos + 4); pos += 4; break;
      default: throw new RangeError(`unsupported wire type ${wireType}`);
    }
    if (!fields.has(number)) fields.set(number, []);
    fields.get(number).push(value);
  }
  return fields;
}

const str = (fields, n) => (fields.get(n)?.at(-1) ?? Buffer.alloc(0)).toString('utf8');
const num = (fields, n) => fields.get(n)?.at(-1) ?? 0;
const all = (fields, n) => fields.get(n) ?? [];

const DETAIL_DECODERS = {
  'google.rpc.ErrorInfo': (f) => ({
    reason: str(f, 1),
    domain: str(f, 2),
    metadata: Object.fromEntries(all(f, 3).map((entry) => {
      const e = readFields(entry);
      return [str(e, 1), str(e, 2)];
    })),
  }),
  'google.rpc.BadRequest': (f) => ({
    fieldViolations: all(f, 1).map((v) => {
      const e = readFields(v);
      return { field: str(e, 1), description: str(e, 2), reason: str(e, 3) };
    }),
  }),
  'google.rpc.RetryInfo': (f) => {
    const delay = f.has(1) ? readFields(f.get(1).at(-1)) : new Map();
    return { retryDelayMs: num(delay, 1) * 1000 + Math.round(num(delay, 2) / 1e6) };
  },
  'google.rpc.ResourceInfo': (f) => ({
    resourceType: str(f, 1), resourceName: str(f, 2), owner: str(f, 3), description: str(f, 4),
  }),
  'google.rpc.PreconditionFailure': (f) => ({
    violations: all(f, 1).map((v) => {
      const e = readFields(v);
      return { type: str(e, 1), subject: str(e, 2), description: str(e, 3) };
    }),
  }),
  'google.rpc.DebugInfo': (f) => ({
    stackEntries: all(f, 1).map((b) => b.toString('utf8')), detail: str(f, 2),
  }),
  'google.rpc.LocalizedMessage': (f) => ({ locale: str(f, 1), message: str(f, 2) }),
};

/**
 * Decode a serialized google.rpc.Status: `{ code, message, details }`, each detail
 * `{ type, ...fields }` for the google.rpc error detail types, or `{ type, value }` (raw
 * bytes) for any other.
 */
export function decodeStatus(bytes) {
  const status = readFields(bytes);
  const details = all(status, 3).map((anyBytes) => {
    const any = readFields(anyBytes);
    const typeUrl = str(any, 1);
    const type = typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length)
      : typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    const value = any.get(2)?.at(-1) ?? Buffer.alloc(0);
    const decode = DETAIL_DECODERS[type];
    return decode ? { type, ...decode(readFields(value)) } : { type, value };
  });
  return { code: num(status, 1), message: str(status, 2), details };
}
