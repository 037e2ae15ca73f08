import { afterAll, describe, expect, it } from 'vitest';
import { maxRunnerCapacity, maxRunnerLabels, maxRunnerNameLength } from '../../src/core/runner-label.js';
import { describeHost, runnerLabels } from '../../src/runner/host.js';
import { Workspace } from './cli.js';
import {
  adminApi,
  killAll,
  type StartedProcess,
  startConnectedRunner,
  startServerForRunners,
} from './fleet-processes.js';

const admin = 'vkt-e2e-register-bounds-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

interface Listed {
  readonly name: string;
  readonly labels: readonly string[];
  readonly capacity: number;
  readonly connected: boolean;
  readonly transport?: string;
}

/**
 * The most `valkyrie runner` takes (its --name, --labels with the labels it derives for this machine,
 * --capacity) is what the server's register takes, over either transport: were the protocol's bounds
 * tighter than the command's, such a runner would start and then be refused on every connection.
 */
describe('valkyrie runner at the bounds it takes', () => {
  it('registers over WebSocket and long-poll with the longest name, the most labels and the largest capacity', async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes);
    const derived = runnerLabels(describeHost('any'), [], { local: false }).length;
    const labels = Array.from(
      { length: maxRunnerLabels - derived },
      (_, index) => `${index}-${'x'.repeat(200 - `${index}-`.length)}`,
    );
    const widest = ['--labels', labels.join(','), '--capacity', String(maxRunnerCapacity)];
    const names = {
      websocket: 'w'.repeat(maxRunnerNameLength),
      'long-poll': 'p'.repeat(maxRunnerNameLength),
    };
    await Promise.all([
      startConnectedRunner(ws, processes, server.url, registration, names.websocket, widest),
      startConnectedRunner(ws, processes, server.url, registration, names['long-poll'], [
        ...widest,
        ...['--protocol', 'http'],
      ]),
    ]);
    const { runners } = await adminApi(server.url, admin)<{ runners: Listed[] }>('GET', '/api/v1/runners');
    for (const [transport, name] of Object.entries(names)) {
      const listed = runners.find((runner) => runner.name === name);
      expect(listed).toMatchObject({ connected: true, capacity: maxRunnerCapacity, transport });
      expect(listed?.labels).toHaveLength(maxRunnerLabels);
    }
  }, 60_000);
});
