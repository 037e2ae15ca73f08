import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { adminToken, runningJob, startTestServer } from '../server/helpers.js';
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

  it('--server: the run view lists them per job with the runner that sent them, and show prints them', async () => {
    const live = await startTestServer({ controlPlane: { leaseTtlMs: 300 } });
    const job = await runningJob(live);
    const { runners } = (await live.request('GET', '/api/v1/runners')).body as {
      runners: { id: string; name: string }[];
    };
    const runnerId = runners.find((runner) => runner.name === 'scripted')?.id ?? 'not listed';
    // The runner stops renewing: its lease expires and the job goes back to the queue (no other runner).
    let stale: { messageType: string; fencingToken: number; runnerId?: string; at: number }[] = [];
    for (let i = 0; i < 250 && stale.length === 0; i++) {
      job.log('reported after the lease expired');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const { run } = (await live.request('GET', `/api/v1/runs/${job.runId}`)).body as {
        run: { jobs: { staleWrites: typeof stale }[] };
      };
      stale = run.jobs[0]?.staleWrites ?? [];
    }
    expect(stale[0]).toMatchObject({ messageType: 'log', fencingToken: job.fencingToken, runnerId });
    expect(stale[0]).not.toHaveProperty('currentToken');

    const env = { VALKYRIE_SERVER: live.server.url, VALKYRIE_TOKEN: adminToken };
    const show = await ws.run(['show', job.runId], env);
    expect(show.code, show.stderr).toBe(0);
    const line = show.stdout.split('\n').find((text) => text.includes('stale write'));
    expect(line?.trim()).toMatch(
      new RegExp(
        `^\\d+ stale writes? refused \\(last: log under token ${job.fencingToken} from runner ${runnerId}, no live lease, at \\d{4}-`,
      ),
    );
    const json = JSON.parse((await ws.run(['show', job.runId, '--json'], env)).stdout) as {
      jobs: { staleWrites: { messageType: string; runnerId?: string }[] }[];
    };
    expect(json.jobs[0]?.staleWrites[0]).toMatchObject({ messageType: 'log', runnerId });
  });
});
