import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  killAll,
  type StartedProcess,
  type StartedServer,
  startConnectedRunner,
  startServerForRunners,
} from './fleet-processes.js';

/**
 * How a job's `runs-on` meets a real runner's labels, every part a real process: a runner's labels
 * are listed once each ignoring case (matching ignores it).
 */
const admin = 'vkt-e2e-runs-on-labels-admin-0123';

const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let env: Record<string, string>;

beforeAll(async () => {
  const started = await startServerForRunners(ws, admin, processes);
  server = started.server;
  env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: admin };
  await startConnectedRunner(ws, processes, server.url, started.registration, 'labelled', [
    '--labels',
    'GPU,gpu,zone=eu',
    '--labels',
    'Linux,Self-Hosted',
  ]);
}, 60_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('runs-on and runner labels on a fleet', () => {
  it('lists a label given again in another case, or a derived one given explicitly, once', async () => {
    const listed = await ws.run(['runners', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const [runner] = JSON.parse(listed.stdout) as { labels: string[] }[];
    const labels = runner?.labels ?? [];
    expect(labels.slice(0, 2)).toEqual(['self-hosted', 'linux']);
    expect(labels.filter((label) => label.toLowerCase() === 'gpu')).toEqual(['GPU']);
    expect(labels).toContain('zone=eu');
    expect(new Set(labels.map((label) => label.toLowerCase())).size).toBe(labels.length);
  });
});
