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
 * are listed once each ignoring case (matching ignores it), and a job whose `runs-on` names no label
 * is refused or failed, never given to whichever runner is free.
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

  it('fails a job whose runs-on expression gives no label, as GitHub does, rather than run it anywhere', async () => {
    ws.write(
      'missing-key.yml',
      `on: push
jobs:
  build:
    strategy: { matrix: { platform: [linux] } }
    runs-on: \${{ matrix.os }}
    steps: [{ run: echo ran-anyway }]
`,
    );
    const followed = await ws.run(['submit', 'missing-key.yml', '--no-bundle', '--follow'], env);
    expect(followed.code).toBe(1);
    expect(followed.stdout).not.toContain('ran-anyway');
    expect(followed.stdout).not.toContain('running on runner');
    expect(followed.stdout).toContain(
      'missing-key.yml:5:14: job "build": runs-on: no runner label: ${{ matrix.os }} gave null; a job needs at least one, or it could run on any runner',
    );
  }, 30_000);

  it('refuses a runs-on written without a label (a group alone too) at its place, and warns that a group beside labels has no effect', async () => {
    ws.write(
      'no-label.yml',
      `on: push
jobs:
  a: { runs-on: [], steps: [{ run: "true" }] }
  b: { runs-on: "", steps: [{ run: "true" }] }
  c: { runs-on: { group: deployers, labels: [gpu] }, steps: [{ run: "true" }] }
  d: { runs-on: { group: deployers }, steps: [{ run: "true" }] }
`,
    );
    const refused = await ws.run(['submit', 'no-label.yml', '--no-bundle'], env);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      'no-label.yml:3:17: error: job "a": runs-on must name at least one runner label (runs-on: self-hosted, [self-hosted, linux]), received []',
    );
    expect(refused.stderr).toContain('no-label.yml:4:17: error: job "b": runs-on must name at least one');
    expect(refused.stderr).toContain(
      'no-label.yml:5:19: warning: runs-on: group "deployers" has no effect: Valkyrie has no runner groups, it matches runners by their labels',
    );
    expect(refused.stderr).toContain(
      'no-label.yml:6:19: error: job "d": runs-on: group "deployers" without labels would run the job on any runner: Valkyrie has no runner groups',
    );
  });
});
