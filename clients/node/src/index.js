// @quantum-grpc/client: a small Node.js client for the Quantum network API over gRPC.
//
// It loads the repository's .proto files at run time with @grpc/proto-loader (no generated
// code), sends the tenant as `x-tenant-id` metadata on every call, returns promises for the
// unary RPCs, an async iterator for WatchStatus that resumes from its last revision when
// the stream drops, and `waitFor` built on that iterator.

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import {
  QuantumError, codeName, decodeStatus, fromServiceError, isResumable, isTokenExpired, withTlsHint,
  ERROR_DOMAIN,
} from './errors.js';

export { QuantumError, codeName, decodeStatus, fromServiceError, isResumable, isTokenExpired, ERROR_DOMAIN };
/** Numeric gRPC status codes, re-exported from grpc-js: `status.NOT_FOUND === 5`. */
export const status = grpc.status;

export const DEFAULT_URL = '127.0.0.1:9696';
const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository this package lives in (clients/node/src -> repository root). */
const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
const PROTO_FILES = [
  'quantum/v1/network_service.proto',
  'quantum/v1/port_service.proto',
  'quantum/v1/attachment_service.proto',
  'quantum/v1/watch_service.proto',
];
// Field names exactly as in the .proto files (network_id, not networkId), enums as their
// names ("PORT_STATUS_ACTIVE"), int64 revisions as JavaScript numbers (revisions stay far
// below 2^53), every field present with its default, and `kind` naming the set oneof.
const LOADER_OPTIONS = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

// RPCs that are safe to send again after UNAVAILABLE: reads, and creates once they carry a
// request id (the server then answers a repeat with what the first one made).
const IDEMPOTENT = new Set([
  'GetNetwork', 'ListNetworks', 'CreateNetwork',
  'GetPort', 'ListPorts', 'CreatePort',
  'GetAttachment',
]);
const SERVICES = ['NetworkService', 'PortService', 'AttachmentService', 'WatchService'];
const KINDS = {
  network: { enum: 'RESOURCE_KIND_NETWORK', statusPrefix: 'NETWORK_STATUS_' },
  port: { enum: 'RESOURCE_KIND_PORT', statusPrefix: 'PORT_STATUS_' },
  attachment: { enum: 'RESOURCE_KIND_ATTACHMENT', statusPrefix: 'ATTACHMENT_STATUS_' },
};

const packageCache = new Map();

/** The include directories: `<repo>/protos` and `<repo>/third_party/googleapis`. */
export function defaultProtoDirs(root = process.env.QUANTUM_PROTO_ROOT || REPO_ROOT) {
  return [path.join(root, 'protos'), path.join(root, 'third_party', 'googleapis')];
}

/** Load (once per set of include dirs) the quantum.v1 package with proto-loader. */
export function loadProtos(includeDirs = defaultProtoDirs()) {
  const key = includeDirs.join('\0');
  if (!packageCache.has(key)) {
    const missing = includeDirs.filter((dir) => !existsSync(dir));
    if (missing.length) {
      throw new Error(`proto include directories not found: ${missing.join(', ')} ` +
        '(set QUANTUM_PROTO_ROOT to the quantum-grpc repository, or pass protoDirs)');
    }
    const definition = protoLoader.loadSync(PROTO_FILES, { ...LOADER_OPTIONS, includeDirs });
    packageCache.set(key, grpc.loadPackageDefinition(definition).quantum.v1);
  }
  return packageCache.get(key);
}

/** "grpc://host:port", "http://host:port/" or "host:port" -> "host:port". */
function target(url) {
  return url.replace(/^(grpcs?|https?|dns):\/\/(?!\/)/, '').replace(/\/+$/, '');
}

/** true for grpcs:// and https://, false for grpc:// and http://, null for a bare host:port. */
function schemeTls(url) {
  if (/^(grpcs|https):\/\//.test(url)) return true;
  if (/^(grpc|http):\/\//.test(url)) return false;
  return null;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const flag = (value) => TRUE.has(String(value ?? '').trim().toLowerCase());

/** A PEM given as a Buffer, or a path to read. */
function pem(value, what) {
  if (value == null || value === '') return null;
  if (Buffer.isBuffer(value)) return value;
  try {
    return readFileSync(value);
  } catch (error) {
    throw new TypeError(`cannot read the ${what} ${value}: ${error.message}`);
  }
}

/**
 * The TLS decision and credentials: TLS for grpcs:// (https://), plaintext for grpc://
 * (http://), and for a bare host:port TLS when `tls` is set or a CA or client certificate
 * is given. Returns { tls, credentials }.
 */
function channelCredentials(url, { tls, ca, cert, key }) {
  const scheme = schemeTls(url);
  if (scheme === false && tls === true) {
    throw new TypeError(`${url} is a plaintext URL; use grpcs:// for TLS`);
  }
  if (Boolean(cert) !== Boolean(key)) throw new TypeError('a client certificate needs both cert and key');
  const useTls = scheme ?? (tls ?? Boolean(ca || cert));
  if (!useTls) return { tls: false, credentials: grpc.credentials.createInsecure() };
  return {
    tls: true,
    credentials: grpc.credentials.createSsl(pem(ca, 'CA file'), pem(key, 'client key'),
      pem(cert, 'client certificate')),
  };
}

/**
 * The token source: a string (the token), a function returning the current token (or a
 * promise of it), or a file read again on every use (so a rotated file is picked up).
 * Returns { current: async () => token|null, renewable }.
 */
function tokenSource(token, tokenFile) {
  if (token != null && token !== '' && tokenFile) throw new TypeError('give token or tokenFile, not both');
  if (typeof token === 'function') {
    return { renewable: true, current: async () => String((await token()) ?? '').trim() || null };
  }
  if (token) return { renewable: false, current: async () => String(token).trim() };
  if (tokenFile) {
    return {
      renewable: true,
      current: async () => {
        let text;
        try {
          text = readFileSync(tokenFile, 'utf8').trim();
        } catch (error) {
          throw new QuantumError(`cannot read the token file ${tokenFile}: ${error.message}`,
            { code: grpc.status.UNAUTHENTICATED, reason: 'TOKEN_UNAVAILABLE', cause: error });
        }
        if (!text) {
          throw new QuantumError(`the token file ${tokenFile} is empty`,
            { code: grpc.status.UNAUTHENTICATED, reason: 'TOKEN_UNAVAILABLE' });
        }
        return text;
      },
    };
  }
  return { renewable: false, current: async () => null };
}

const lowerFirst = (name) => name[0].toLowerCase() + name.slice(1);

/**
 * "ACTIVE" or "PORT_STATUS_ACTIVE" (or a list of either, perhaps with "APPLIED") ->
 * { statuses: ["PORT_STATUS_ACTIVE"], applied }. "APPLIED": the back-end applied the
 * latest change (observed_generation === generation; networks and ports), see
 * docs/status-model.md ("Observed generation").
 */
function waitGoal(kind, wanted) {
  const prefix = KINDS[kind].statusPrefix;
  const list = (Array.isArray(wanted) ? wanted : [wanted]).map((s) => String(s).toUpperCase());
  if (list.length === 0) throw new TypeError('waitFor needs at least one status');
  const applied = list.includes('APPLIED');
  if (applied && kind === 'attachment') throw new TypeError('APPLIED is for networks and ports; wait for the port');
  const statuses = list.filter((name) => name !== 'APPLIED')
    .map((name) => (name.startsWith(prefix) ? name : prefix + name));
  return { statuses, applied };
}

/** A google.protobuf.Timestamp as returned by this client -> Date (null when unset). */
export function toDate(timestamp) {
  if (!timestamp) return null;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos || 0) / 1e6));
}

/**
 * Connect to a Quantum server. The channel connects lazily; the first call (or
 * `client.waitForReady()`) opens it.
 *
 * @param {object} [options]
 * @param {string} [options.url] grpcs://host:port (TLS), or host:port / grpc://host:port
 *   (plaintext); default $QUANTUM_URL or 127.0.0.1:9696
 * @param {string} [options.tenant] sent as `x-tenant-id`; default $QUANTUM_TENANT
 * @param {boolean} [options.admin] also send `x-quantum-admin: true`
 * @param {string|(() => string|Promise<string>)} [options.token] bearer token, or a function
 *   returning the current one; default $QUANTUM_TOKEN
 * @param {string} [options.tokenFile] file holding the token, read again on every call and
 *   watch resume; default $QUANTUM_TOKEN_FILE
 * @param {boolean} [options.tls] TLS with a bare host:port; default $QUANTUM_TLS (on when a
 *   CA or client certificate is given)
 * @param {string|Buffer} [options.ca] PEM CA(s) to trust; default $QUANTUM_CA, else the system's
 * @param {string|Buffer} [options.cert] PEM client certificate; default $QUANTUM_CERT
 * @param {string|Buffer} [options.key] its key; default $QUANTUM_KEY
 * @param {grpc.ChannelCredentials} [options.credentials] channel credentials to use instead
 *   of the TLS options above
 * @param {number} [options.timeoutMs] deadline of each unary call; default 30000
 * @param {number} [options.retries] extra attempts of idempotent calls on UNAVAILABLE; default 3
 * @param {string[]} [options.protoDirs] proto include directories; default the repository's
 * @param {object} [options.channelOptions] grpc-js channel options
 */
export function connect(options = {}) {
  return new QuantumClient(options);
}

export class QuantumClient {
  constructor({
    url = process.env.QUANTUM_URL || DEFAULT_URL,
    tenant = process.env.QUANTUM_TENANT || '',
    admin = false,
    token = process.env.QUANTUM_TOKEN || undefined,
    tokenFile = token ? undefined : process.env.QUANTUM_TOKEN_FILE || undefined,
    tls = process.env.QUANTUM_TLS ? flag(process.env.QUANTUM_TLS) : undefined,
    ca = process.env.QUANTUM_CA,
    cert = process.env.QUANTUM_CERT,
    key = process.env.QUANTUM_KEY,
    credentials,
    timeoutMs = 30_000,
    retries = 3,
    protoDirs,
    channelOptions = {},
  } = {}) {
    const secure = credentials ? { tls: null, credentials } : channelCredentials(url, { tls, ca, cert, key });
    credentials = secure.credentials;
    /** Whether the channel uses TLS (null when `credentials` were given). */
    this.tls = secure.tls;
    this.hasClientCert = Boolean(cert);
    this.url = target(url);
    this.tenant = tenant;
    this.admin = admin;
    this.token = tokenSource(token, tokenFile);
    this.timeoutMs = timeoutMs;
    this.retries = retries;
    const v1 = loadProtos(protoDirs);
    this.channel = new grpc.Channel(this.url, credentials, channelOptions);
    const stubOptions = { channelOverride: this.channel };
    /** The raw grpc-js stubs, for anything this wrapper does not cover. */
    this.stubs = {};
    for (const name of SERVICES) {
      this.stubs[name] = new v1[name](this.url, credentials, stubOptions);
    }
  }

  /** Call metadata: the tenant, the admin flag, the token if given, and any extra pairs. */
  metadata(extra = {}, token = null) {
    const md = new grpc.Metadata();
    if (this.tenant) md.set('x-tenant-id', this.tenant);
    if (this.admin) md.set('x-quantum-admin', 'true');
    if (token) md.set('authorization', `Bearer ${token}`);
    for (const [key, value] of Object.entries(extra)) md.set(key, value);
    return md;
  }

  /** The token to send now (asked of its source every time: a rotated file is re-read). */
  currentToken() {
    return this.token.current();
  }

  /** Whether the token source now gives another token than `used`. */
  async #tokenRenewed(used) {
    if (!this.token.renewable) return false;
    try {
      return (await this.token.current()) !== used;
    } catch {
      return false;
    }
  }

  #failure(error) {
    return withTlsHint(fromServiceError(error), { tls: this.tls, hasClientCert: this.hasClientCert });
  }

  /** Resolve once the channel is connected; reject after `timeoutMs`. */
  waitForReady(timeoutMs = 10_000) {
    const stub = this.stubs.NetworkService;
    return new Promise((resolve, reject) => {
      stub.waitForReady(Date.now() + timeoutMs, (error) => {
        if (error) {
          reject(new QuantumError(`${this.url} not reachable within ${timeoutMs} ms: ${error.message}`,
            { code: grpc.status.UNAVAILABLE, cause: error }));
        } else resolve();
      });
    });
  }

  /** Close the channel; open watches end with CANCELLED. */
  close() {
    this.channel.close();
  }

  // --- NetworkService -----------------------------------------------------------------
  // Every call takes the request as a plain object with the .proto field names and
  // options `{ timeoutMs, metadata, signal }`, and resolves with the response object
  // (`const { network } = await client.createNetwork({ name: 'web' })`) or rejects with
  // a QuantumError.

  /** CreateNetwork({ name, request_id? }) -> { network }. A request_id is added if missing. */
  createNetwork(request, options) { return this.call('NetworkService', 'CreateNetwork', request, options); }
  /** GetNetwork({ network_id }) -> { network }. */
  getNetwork(request, options) { return this.call('NetworkService', 'GetNetwork', request, options); }
  /** ListNetworks({ page_size?, page_token?, name?, status? }) -> { networks, next_page_token }. */
  listNetworks(request, options) { return this.call('NetworkService', 'ListNetworks', request, options); }
  /** UpdateNetwork({ network_id, name?, expected_revision?, require_ready? }) -> { network }. */
  updateNetwork(request, options) { return this.call('NetworkService', 'UpdateNetwork', request, options); }
  /** DeleteNetwork({ network_id, expected_revision? }) -> { network, deleted }. */
  deleteNetwork(request, options) { return this.call('NetworkService', 'DeleteNetwork', request, options); }
  /** RetryNetwork({ network_id, expected_revision? }) -> { network }: send a network in ERROR again. */
  retryNetwork(request, options) { return this.call('NetworkService', 'RetryNetwork', request, options); }

  // --- PortService --------------------------------------------------------------------

  /** CreatePort({ network_id, admin_state_up?, qos?, request_id?, require_ready? }) -> { port }. */
  createPort(request, options) { return this.call('PortService', 'CreatePort', request, options); }
  /** GetPort({ port_id, network_id? }) -> { port }. */
  getPort(request, options) { return this.call('PortService', 'GetPort', request, options); }
  /** ListPorts({ network_id?, page_size?, page_token?, status? }) -> { ports, next_page_token }. */
  listPorts(request, options) { return this.call('PortService', 'ListPorts', request, options); }
  /** UpdatePort({ port_id, admin_state_up?, qos?, expected_revision?, require_ready? }) -> { port }. */
  updatePort(request, options) { return this.call('PortService', 'UpdatePort', request, options); }
  /** DeletePort({ port_id, expected_revision? }) -> { port, deleted }. */
  deletePort(request, options) { return this.call('PortService', 'DeletePort', request, options); }
  /** RetryPort({ port_id, expected_revision? }) -> { port }: send a port in ERROR again. */
  retryPort(request, options) { return this.call('PortService', 'RetryPort', request, options); }

  // --- AttachmentService --------------------------------------------------------------

  /** GetAttachment({ port_id }) -> { attachment }. */
  getAttachment(request, options) { return this.call('AttachmentService', 'GetAttachment', request, options); }
  /** PlugAttachment({ port_id, interface_id, expected_revision?, require_ready? }) -> { attachment, port }. */
  plugAttachment(request, options) { return this.call('AttachmentService', 'PlugAttachment', request, options); }
  /** UnplugAttachment({ port_id, expected_revision? }) -> { attachment, port, deleted }. */
  unplugAttachment(request, options) { return this.call('AttachmentService', 'UnplugAttachment', request, options); }

  // --- WatchService (unary) -----------------------------------------------------------

  /**
   * The server-side wait: WaitForStatus({ kind, resource_id, port_statuses, ... }) ->
   * { resource, revision }. Give `timeoutMs` at least as long as the wait. `waitFor` below
   * does the same through WatchStatus and survives a server restart.
   */
  waitForStatus(request, options) { return this.call('WatchService', 'WaitForStatus', request, options); }

  /** Any unary RPC by service and method name, with the tenant metadata and retries. */
  async call(service, method, request = {}, { timeoutMs = this.timeoutMs, metadata = {}, signal } = {}) {
    const stub = this.stubs[service];
    let body = request;
    if ((method === 'CreateNetwork' || method === 'CreatePort') && !request.request_id) {
      body = { ...request, request_id: randomUUID() }; // makes the retry below safe
    }
    const attempts = IDEMPOTENT.has(method) ? 1 + this.retries : 1;
    for (let attempt = 1; ; attempt++) {
      const token = await this.currentToken();
      try {
        return await new Promise((resolve, reject) => {
          const onAbort = () => call.cancel();
          const call = stub[method](
            body,
            this.metadata(metadata, token),
            timeoutMs ? { deadline: Date.now() + timeoutMs } : {},
            (error, response) => {
              signal?.removeEventListener('abort', onAbort);
              if (error) reject(this.#failure(error));
              else resolve(response);
            },
          );
          if (signal?.aborted) call.cancel();
          else signal?.addEventListener('abort', onAbort, { once: true });
        });
      } catch (error) {
        if (isTokenExpired(error) && await this.#tokenRenewed(token)) {
          attempt -= 1; // refused before it ran: safe to send again with the new token
          continue;
        }
        if (error.code !== grpc.status.UNAVAILABLE || attempt >= attempts || signal?.aborted) {
          throw error;
        }
        await sleep(100 * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * Watch events (WatchStatus) as an async iterator of WatchEvent objects
   * `{ type, revision, resource }`, where `resource.kind` is "network", "port" or
   * "attachment" and `resource[resource.kind]` the snapshot. Markers (EVENT_TYPE_SYNCED,
   * EVENT_TYPE_PROGRESS) are yielded too; they carry only a revision.
   *
   * When the stream drops (server restart, draining, lagging, a proxy's cut: see
   * `isResumable`), the iterator reconnects with backoff, for ever unless `maxRetries` caps
   * the failures in a row, and resumes after the last revision it yielded, so no event is
   * lost or repeated. If that revision was compacted away it starts over from the current
   * state (ADDED events, then SYNCED). Any other error is thrown. Breaking out of the loop,
   * or aborting `signal`, cancels the stream.
   *
   * @param {object} [request] a WatchStatusRequest: kinds, resource_ids, network_id,
   *   network_statuses, port_statuses, attachment_statuses, start_revision
   * @param {object} [options]
   * @param {AbortSignal} [options.signal]
   * @param {boolean} [options.resume] reconnect on a dropped stream; default true
   * @param {number} [options.maxBackoffMs] longest pause between reconnects; default 2000
   * @param {number} [options.maxRetries] failed reconnects in a row before the last error is
   *   thrown (any message received resets the count); default Infinity
   * @param {(error: QuantumError, revision: number) => void} [options.onReconnect]
   */
  async *watch(request = {}, {
    signal, resume = true, maxBackoffMs = 2000, maxRetries = Infinity, onReconnect,
  } = {}) {
    let revision = Number(request.start_revision || 0);
    let failures = 0;
    while (!signal?.aborted) {
      // Every stream (every resume) carries the token current when it starts.
      const token = await this.currentToken();
      const stream = this.#openWatch({ ...request, start_revision: revision }, signal, token);
      let error;
      try {
        for (;;) {
          let message;
          try {
            message = await stream.next();
          } catch (caught) {
            error = caught;
            break;
          }
          if (message === null) break;
          failures = 0;
          for (const event of message.events) {
            revision = Math.max(revision, Number(event.revision));
            yield event;
          }
        }
      } finally {
        stream.cancel(); // also when the consumer leaves the loop early
      }
      if (signal?.aborted) break;
      if (error) {
        if (error.code === grpc.status.OUT_OF_RANGE && error.reason === 'REVISION_COMPACTED') {
          revision = 0; // start over from the current state
        } else if (!resume
          || !isResumable(error, { tokenRenewed: isTokenExpired(error) && await this.#tokenRenewed(token) })) {
          throw error;
        }
      } else if (!resume) {
        return;
      }
      failures += 1;
      const cause = error ?? new QuantumError('the watch stream ended', { code: grpc.status.UNAVAILABLE });
      if (failures > maxRetries) throw cause;
      onReconnect?.(cause, revision);
      await sleep(Math.min(maxBackoffMs, 50 * 2 ** Math.min(failures, 10)), undefined, { signal })
        .catch(() => {});
    }
  }

  /** One WatchStatus call: next() -> the next WatchStatusResponse, or null at its end. */
  #openWatch(request, signal, token) {
    const call = this.stubs.WatchService.WatchStatus(request, this.metadata({}, token));
    const queue = [];
    let ended = false;
    let failure = null;
    let wake = null;
    const notify = () => { const w = wake; wake = null; w?.(); };
    const onAbort = () => call.cancel();
    call.on('data', (message) => {
      queue.push(message);
      if (queue.length >= 64) call.pause(); // resumed as the consumer drains the queue
      notify();
    });
    call.on('error', (error) => { failure = this.#failure(error); notify(); });
    // 'end' comes only after every message was delivered (a paused stream keeps the rest
    // buffered); a failure may come earlier, but then the watch resumes after the last
    // revision it yielded, so nothing is lost.
    call.on('end', () => { ended = true; notify(); });
    signal?.addEventListener('abort', onAbort, { once: true });
    return {
      async next() {
        for (;;) {
          if (queue.length) {
            const message = queue.shift();
            if (queue.length < 16 && call.isPaused()) call.resume();
            return message;
          }
          if (failure) throw failure;
          if (ended) return null;
          await new Promise((resolve) => { wake = resolve; });
        }
      },
      cancel() {
        signal?.removeEventListener('abort', onAbort);
        if (!ended && !failure) call.cancel();
      },
    };
  }

  /**
   * Wait until a port (or network, or attachment) reaches a status, through WatchStatus.
   *
   * Resolves with the resource snapshot (a Port by default) once it is in one of the
   * wanted statuses, at once if it already is. Rejects:
   * - at once when it goes to ERROR: FAILED_PRECONDITION, reason RESOURCE_FAILED, with
   *   `backendError` = the back-end's `{ code, message }`;
   * - NOT_FOUND, reason RESOURCE_DELETED, if it does not exist or is deleted meanwhile;
   * - DEADLINE_EXCEEDED, reason WAIT_TIMEOUT, when `timeoutMs` passes first.
   * A dropped stream is resumed from the last revision seen (see `watch`).
   *
   * @param {string} id the resource's UUID (for an attachment, its port's)
   * @param {string|string[]} wanted "ACTIVE", "PORT_STATUS_ACTIVE", or a list of them;
   *   "APPLIED" (alone: in any status but ERROR) also waits until the back-end applied the
   *   latest change, observed_generation === generation (networks and ports)
   * @param {object} [options]
   * @param {number} [options.timeoutMs] default 60000; 0 or Infinity waits forever
   * @param {"port"|"network"|"attachment"} [options.kind] default "port"
   * @param {AbortSignal} [options.signal]
   * @param {(resource: object, event: object) => void} [options.onUpdate] called with each
   *   snapshot of the resource as it arrives (to show progress)
   * @param {(error: QuantumError, revision: number) => void} [options.onReconnect]
   */
  async waitFor(id, wanted, { timeoutMs = 60_000, kind = 'port', signal, onUpdate, onReconnect } = {}) {
    if (!KINDS[kind]) throw new TypeError(`unknown kind ${kind}; one of ${Object.keys(KINDS)}`);
    const { statuses, applied } = waitGoal(kind, wanted);
    const errorStatus = `${KINDS[kind].statusPrefix}ERROR`;
    const reached = (resource) =>
      (statuses.length ? statuses.includes(resource.status) : resource.status !== errorStatus)
      && (!applied || resource.observed_generation === resource.generation);
    const label = [...(statuses.length ? [statuses.join(' or ')] : []), ...(applied ? ['APPLIED'] : [])].join(' and ');
    const noun = `${kind} ${id}`;
    const controller = new AbortController();
    const stop = () => controller.abort();
    signal?.addEventListener('abort', stop, { once: true });
    let timer;
    let last = null;
    const timeout = new Promise((_, reject) => {
      if (!timeoutMs || timeoutMs === Infinity) return;
      timer = setTimeout(() => {
        const seen = last ? `; last status ${last.status}` : '';
        reject(new QuantumError(`${noun} did not reach ${label} within ${timeoutMs} ms${seen}`,
          { code: grpc.status.DEADLINE_EXCEEDED, reason: 'WAIT_TIMEOUT', domain: ERROR_DOMAIN,
            metadata: last ? { status: last.status } : {} }));
      }, timeoutMs);
    });
    let fail;
    const aborted = new Promise((_, reject) => {
      fail = () => reject(new QuantumError(`waiting for ${noun} was aborted`,
        { code: grpc.status.CANCELLED, cause: signal.reason }));
      if (signal?.aborted) fail();
      else signal?.addEventListener('abort', fail, { once: true });
    });
    const follow = async () => {
      const request = { kinds: [KINDS[kind].enum], resource_ids: [id] };
      let synced = false;
      for await (const event of this.watch(request, { signal: controller.signal, onReconnect })) {
        if (event.type === 'EVENT_TYPE_SYNCED') {
          synced = true;
          if (!last) {
            throw new QuantumError(`${noun} not found`, { code: grpc.status.NOT_FOUND,
              reason: 'RESOURCE_DELETED', domain: ERROR_DOMAIN, field: 'resource_id' });
          }
          continue;
        }
        const resource = event.resource?.[kind];
        const resourceId = kind === 'attachment' ? resource?.port_id : resource?.id;
        if (!resource || resourceId !== id) continue;
        last = resource;
        onUpdate?.(resource, event);
        if (event.type === 'EVENT_TYPE_DELETED') {
          throw new QuantumError(`${noun} was deleted while waiting`, { code: grpc.status.NOT_FOUND,
            reason: 'RESOURCE_DELETED', domain: ERROR_DOMAIN, metadata: { revision: String(event.revision) } });
        }
        if (reached(resource)) return resource;
        if (resource.status === errorStatus && !statuses.includes(errorStatus)) {
          const backendError = { code: resource.error?.code ?? '', message: resource.error?.message ?? '' };
          throw new QuantumError(`${noun} went to ERROR: ${backendError.code}: ${backendError.message}`, {
            code: grpc.status.FAILED_PRECONDITION,
            reason: 'RESOURCE_FAILED',
            domain: ERROR_DOMAIN,
            metadata: { error_code: backendError.code, error_message: backendError.message,
              revision: String(event.revision) },
            backendError,
          });
        }
      }
      // Only an abort ends the resuming watch without an error; `aborted` rejects then.
      return synced ? last : null;
    };
    try {
      return await Promise.race([follow(), timeout, aborted]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      signal?.removeEventListener('abort', fail);
      controller.abort();
    }
  }
}
