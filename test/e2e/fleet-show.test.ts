import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobAttemptRecord, JobRecord, StepRecord } from '../../src/store/runs.js';
import { events, statuses, Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startFleet, startSubmit } from './fleet-processes.js';

/**
 * `valkyrie show RUN --server URL` of a fleet run prints what `valkyrie show RUN` prints of the same
 * run read from the server's store itself: a retried job's attempts with their steps, a step's
 * timeout, the job's whole time from its first attempt's start; and `--json` gives the same attempts
 * and steps. It once printed one line with the last attempt's duration and `attempt 2`.
 */
const admin = 'vkt-e2e-admin-token-fleet-show-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let serverUrl = '';
let submitToken = '';
let readToken = '';

beforeAll(async () => {
  const fleet = await startFleet(ws, processes, admin, 'vm');
  serverUrl = fleet.server.url;
  submitToken = await fleet.token('submit');
  readToken = await fleet.token('read');
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

/** Counts its runs in `counter`; exits 1 (or sleeps past its timeout, `slow`) before run `succeedOn`. */
const failsUntil = (counter: string, succeedOn: number, slow = false) =>
  `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}
          echo "try $n"
          if [ $n -lt ${succeedOn} ]; then ${slow ? 'sleep 20' : 'exit 1'}; fi`;

type Shown = {
  jobs: (JobRecord & { durationMs?: number; attempts: JobAttemptRecord[]; steps: StepRecord[] })[];
};

describe('show --server of a retried fleet job', () => {
  it('prints the lines local show prints of the same run, and --json the same attempts and steps', async () => {
    const file = ws.write(
      'show.yml',
      `name: show
jobs:
  build:
    runs-on: self-hosted
    retry: {max-attempts: 2, delay: 200ms}
    steps:
      - run: echo setting up
      - name: fetch
        run: |
          ${failsUntil(join(ws.dir, 'fetch-count'), 2)}
        retry: {max-attempts: 2, delay: 10ms}
      - name: compile
        timeout-minutes: 0.01
        run: |
          ${failsUntil(join(ws.dir, 'compile-count'), 2, true)}
`,
    );
    const follow = startSubmit(ws, processes, serverUrl, submitToken, file, ['--no-bundle']);
    const result = await follow.done;
    expect(statuses(result.stdout), result.stderr).toEqual({ build: 'succeeded' });
    const runId = String(events(result.stdout).find((event) => event.type === 'run.started')?.runId);

    const server = ['--server', serverUrl];
    const store = ['--db', join(ws.dir, '.valkyrie', 'server', 'valkyrie.db')];
    const env = { VALKYRIE_TOKEN: readToken };
    const remote = await ws.run(['show', runId, ...server], env);
    const local = await ws.run(['show', runId, ...store]);
    expect(remote.code, remote.stderr).toBe(0);
    expect(local.code, local.stderr).toBe(0);
    // The headings differ (the server's says the run's attempt and times from its creation); the jobs do not.
    const jobLines = (text: string) => text.split('\n').slice(1);
    expect(jobLines(remote.stdout)).toEqual(jobLines(local.stdout));
    const shape = jobLines(remote.stdout).map((line) => line.trimEnd().replace(/ \d+(ms|\.\ds)\b/g, ' T'));
    expect(shape).toEqual(
      [
        '  ✓ succeeded build T on runner vm (RUNNER)',
        '    attempt 1: failed    T on runner vm (RUNNER) (step "compile" timed out after 0.01 minutes)',
        '        success   Run echo setting up T',
        '        failure   fetch (attempt 1) · exit code 1 T',
        '        success   fetch (attempt 2) T',
        '        failure   compile · timed out after 0.01 minutes (timeout-minutes) T',
        '    attempt 2: succeeded T on runner vm (RUNNER)',
        '        success   Run echo setting up T',
        '        success   fetch T',
        '        success   compile T',
        '',
      ].map((line) =>
        line.replaceAll('RUNNER', /on runner vm \(([0-9a-f]+)\)/.exec(remote.stdout)?.[1] ?? '?'),
      ),
    );

    const remoteJson = JSON.parse((await ws.run(['show', runId, '--json', ...server], env)).stdout) as Shown;
    const localJson = JSON.parse((await ws.run(['show', runId, '--json', ...store])).stdout) as Shown;
    const [shown] = remoteJson.jobs;
    const [stored] = localJson.jobs;
    const firstStart = stored?.attempts[0]?.startedAt ?? Number.NaN;
    expect((stored?.startedAt ?? 0) - firstStart).toBeGreaterThanOrEqual(200);
    expect(shown?.durationMs).toBe((stored?.finishedAt ?? Number.NaN) - firstStart);
    expect([shown?.startedAt, shown?.finishedAt]).toEqual([stored?.startedAt, stored?.finishedAt]);
    const own = (at: { startedAt?: number; finishedAt?: number }) =>
      at.startedAt === undefined || at.finishedAt === undefined
        ? {}
        : { durationMs: at.finishedAt - at.startedAt };
    expect(shown?.attempts).toEqual(
      stored?.attempts.map(({ jobId: _, fencingToken: _token, ...ended }) => ({ ...ended, ...own(ended) })),
    );
    expect(shown?.steps).toEqual(stored?.steps.map(({ jobId: _, ...step }) => ({ ...step, ...own(step) })));
    expect(shown?.steps.map((step) => [step.jobAttempt ?? 1, step.index, step.attempt ?? 1])).toEqual([
      [1, 0, 1],
      [1, 1, 1],
      [1, 1, 2],
      [1, 2, 1],
      [2, 0, 1],
      [2, 1, 1],
      [2, 2, 1],
    ]);
    // The API's attempts keep a lease's fencing token out, as its jobs do.
    const single = await callApi(serverUrl, readToken, 'GET', `/api/v1/runs/${runId}`);
    const { run } = (await single.json()) as { run: { jobs: { attempts: unknown[] }[] } };
    expect(run.jobs[0]?.attempts).toHaveLength(1);
    expect(JSON.stringify(run.jobs[0])).not.toContain('fencingToken');
    // The runs list reads no attempts or steps per job, so it has neither, nor a retried job's duration.
    const listed = await callApi(serverUrl, readToken, 'GET', '/api/v1/runs');
    const { runs } = (await listed.json()) as { runs: { id: string; jobs: Record<string, unknown>[] }[] };
    const listedJob = runs.find((run) => run.id === runId)?.jobs[0] ?? {};
    expect(Object.keys(listedJob)).not.toContain('attempts');
    expect(Object.keys(listedJob)).not.toContain('steps');
    expect(Object.keys(listedJob)).not.toContain('durationMs');
    expect(listedJob.startedAt).toBe(stored?.startedAt);
  }, 60_000);
});
