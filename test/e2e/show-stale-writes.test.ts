import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { events, Workspace } from './cli.js';

describe('valkyrie show tells the writes refused under a stale lease', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('per job: how many, and the last one; --json lists them', async () => {
    const file = ws.write(
      'two.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
  test:
    runs-on: ubuntu-latest
    steps:
      - run: echo tested
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const started = events(result.stdout).filter((event) => event.type === 'job.started');
    const buildId = String(started.find((event) => event.name === 'build')?.jobId);
    const runId = String(events(result.stdout)[0]?.runId);
    // What the control plane records when a runner that lost its lease still reports (control-plane.ts).
    const stores = openSqliteStores(join(ws.dir, '.valkyrie', 'valkyrie.db'));
    const at = Date.UTC(2026, 10, 30, 1, 2, 3);
    await stores.staleWrites.record({
      jobId: asJobId(buildId),
      fencingToken: 1,
      currentToken: 2,
      messageType: 'step.completed',
      at,
    });
    await stores.staleWrites.record({
      jobId: asJobId(buildId),
      fencingToken: 1,
      messageType: 'job.completed',
      at: at + 1000,
    });
    await stores.close();

    const show = await ws.run(['show', runId]);
    expect(show.code).toBe(0);
    const lines = show.stdout.split('\n');
    const stale = lines.filter((line) => line.includes('stale write'));
    expect(stale.map((line) => line.trim())).toEqual([
      '2 stale writes refused (last: job.completed under token 1, no live lease, at 2026-11-30T01:02:04.000Z)',
    ]);
    // Under the build job: no other job's line comes between them.
    const buildLine = lines.findIndex((line) => line.includes(' build '));
    const staleLine = lines.indexOf(stale[0] ?? '');
    expect(staleLine).toBeGreaterThan(buildLine);
    expect(lines.slice(buildLine + 1, staleLine).some((line) => line.includes(' test '))).toBe(false);

    const json = JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as {
      jobs: { name: string; staleWrites: { messageType: string; fencingToken: number }[] }[];
    };
    const byName = Object.fromEntries(json.jobs.map((job) => [job.name, job.staleWrites]));
    expect(byName.build?.map((write) => write.messageType)).toEqual(['step.completed', 'job.completed']);
    expect(byName.test).toEqual([]);
  });
});
