// Quick start: create a network and a port, plug an interface, and await ACTIVE through
// WatchStatus, printing each step.
//
//   QUANTUM_URL=127.0.0.1:9696 QUANTUM_TENANT=demo node examples/quickstart.js
//
// Exits 0 once the port is ACTIVE, 1 with the error's code and reason otherwise.

import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import { connect } from '../src/index.js';

/**
 * The quick-start flow on a connected client; `log` prints each step.
 * Returns `{ network, port }` with the port as it reached ACTIVE.
 */
export async function quickstart(client, { log = console.log, timeoutMs = 60_000 } = {}) {
  const { network } = await client.createNetwork({ name: 'quickstart' });
  log(`network ${network.id} created: ${network.status}`);

  const { port } = await client.createPort({ network_id: network.id });
  log(`port ${port.id} created: ${port.status}`);

  const interfaceId = `vm-${randomUUID().slice(0, 8)}-eth0`;
  const { attachment } = await client.plugAttachment({ port_id: port.id, interface_id: interfaceId });
  log(`interface ${interfaceId} plugged: ${attachment.status}`);

  log(`waiting for port ${port.id} to be ACTIVE...`);
  const active = await client.waitFor(port.id, 'ACTIVE', {
    timeoutMs,
    onUpdate: (p) => log(`  port is ${p.status} (link ${p.link_status}` +
      `${p.link_status_reason ? `: ${p.link_status_reason}` : ''}, revision ${p.revision})`),
  });
  log(`port ${active.id} is ${active.status}`);
  return { network, port: active };
}

async function main() {
  const client = connect({
    url: process.env.QUANTUM_URL || '127.0.0.1:9696',
    tenant: process.env.QUANTUM_TENANT || 'demo',
  });
  console.log(`connecting to ${client.url} as tenant ${client.tenant}`);
  try {
    await quickstart(client);
  } catch (error) {
    const what = [error.codeName, error.reason].filter(Boolean).join(' ');
    console.error(`error: ${what ? `${what}: ` : ''}${error.message}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
