import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src/server/run-view-schemas.js';
import { events, statuses, Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startFleet, startSubmit } from './fleet-processes.js';

/**
 * `valkyrie show RUN --server URL` of a fleet run prints what `valkyrie show RUN` prints of the same
 * run read from the server's store itself: a retried job's attempts with their steps, a step's
 * timeout, the job's whole time from its first attempt's start; and `--json` gives the same view. It
 * once printed one line with the last attempt's duration and `attempt 2`.
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

type Shown = RunView;

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
    // One function prints the run's view (views/run-detail.ts), whoever built it: heading and all.
    expect(remote.stdout).toBe(local.stdout);
    const jobLines = (text: string) => text.split('\n').slice(1);
    const shape = jobLines(remote.stdout).map((line) => line.trimEnd().replace(/ \d+(ms|\.\ds)\b/g, ' T'));
    expect(shape).toEqual(
      [
        '  ✓ succeeded build T on runner vm (RUNNER)',
        '    attempt 1: failed    T on runner vm (RUNNER) (step "compile" timed out after 0.01 minutes)',
        '        success   Run echo setting up T',
        '        failure   fetch (attempt 1 of 2) · exit code 1 T',
        '        success   fetch (attempt 2 of 2) T',
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
    // One view of the run (run-views.ts), whether the server reads its store or `show` reads it itself.
    expect(localJson).toEqual(remoteJson);
    const [shown] = remoteJson.jobs;
    const firstStart = shown?.attempts?.[0]?.startedAt ?? Number.NaN;
    expect((shown?.startedAt ?? 0) - firstStart).toBeGreaterThanOrEqual(200);
    expect(shown?.durationMs).toBe((shown?.finishedAt ?? Number.NaN) - firstStart);
    for (const own of [...(shown?.attempts ?? []), ...(shown?.steps ?? [])])
      expect(own.durationMs).toBe((own.finishedAt ?? Number.NaN) - (own.startedAt ?? Number.NaN));
    expect(shown?.steps?.map((step) => [step.jobAttempt ?? 1, step.index, step.attempt ?? 1])).toEqual([
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
    expect(listedJob.startedAt).toBe(shown?.startedAt);
  }, 60_000);
});

/** Only a fleet run has them: the runner that started a job's attempt (absent for `valkyrie run`'s). */
const fleetOnly = ['runner'];

/** A workflow whose matrix job fails its first attempt (counted in `counter`), sets an output, and is retried. */
const workflow = (counter: string) => `name: shape
on: push
concurrency: shape
jobs:
  build:
    runs-on: self-hosted
    retry: {max-attempts: 2, delay: 10ms}
    strategy:
      matrix:
        node: [20]
    outputs:
      version: \${{ steps.version.outputs.version }}
    steps:
      - id: version
        run: echo "version=1.2" >> "$GITHUB_OUTPUT"
      - name: flaky
        run: |
          n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}
          if [ $n -lt 2 ]; then exit 1; fi
  test:
    needs: build
    runs-on: self-hosted
    steps:
      - run: echo "\${{ needs.build.outputs.version }}"
`;

type Json = Record<string, unknown>;

const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

/** The keys of a run's view at each level (fleet-only ones left out), sorted: the run's, each job's, its attempts' and steps'. */
function shapeOf(run: Json): Record<string, string[]> {
  const keysOf = (value: Json) =>
    Object.keys(value)
      .filter((key) => !fleetOnly.includes(key))
      .sort();
  const shape: Record<string, string[]> = { run: keysOf(run) };
  for (const job of list(run.jobs)) {
    const name = String(job.key);
    shape[`job ${name}`] = keysOf(job);
    for (const [i, attempt] of list(job.attempts).entries())
      shape[`job ${name} attempt ${i}`] = keysOf(attempt);
    for (const [i, step] of list(job.steps).entries()) shape[`job ${name} step ${i}`] = keysOf(step);
    for (const [i, write] of list(job.staleWrites).entries()) shape[`job ${name} stale ${i}`] = keysOf(write);
  }
  return shape;
}

/**
 * `valkyrie show RUN --json` and `valkyrie runs --json` print one view of a run (run-views.ts), of a
 * local run (`valkyrie run`, read from its SQLite store) as of a server's (`--server`): the same
 * fields at the run, job, attempt and step level. They once printed the store's records locally
 * (no `durationMs`, each step's `jobId`) and the API's view with a server (`number` for `runNumber`,
 * no `matrix`, `outputs` or `workflowPath`), so a script written against one broke on the other.
 */
describe('show --json and runs --json, of a local run and of a server run', () => {
  it('print the same fields at the run, job, attempt and step level', async () => {
    // A checkout, so that both runs have the commit they ran on (sha, ref).
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: ws.dir });
    git('init', '-q', '-b', 'main');
    git('commit', '-q', '--allow-empty', '-m', 'shape');
    ws.write('local.yml', workflow(join(ws.dir, 'local-count')));
    ws.write('fleet.yml', workflow(join(ws.dir, 'fleet-count')));
    const ran = await ws.run(['run', 'local.yml', '--json']);
    expect(statuses(ran.stdout), ran.stderr).toEqual({ 'build (20)': 'succeeded', test: 'succeeded' });
    const localId = String(events(ran.stdout).find((event) => event.type === 'run.started')?.runId);
    const submitted = await startSubmit(ws, processes, serverUrl, submitToken, 'fleet.yml', ['--no-bundle'])
      .done;
    expect(statuses(submitted.stdout), submitted.stderr).toEqual({
      'build (20)': 'succeeded',
      test: 'succeeded',
    });
    const serverId = String(events(submitted.stdout).find((event) => event.type === 'run.started')?.runId);

    const server = ['--server', serverUrl];
    const env = { VALKYRIE_TOKEN: readToken };
    const printed = async (args: string[], withEnv: Record<string, string> = {}) => {
      const result = await ws.run([...args, '--json'], withEnv);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as unknown;
    };
    const local = (await printed(['show', localId])) as Json;
    const remote = (await printed(['show', serverId, ...server], env)) as Json;
    expect(shapeOf(local)).toEqual(shapeOf(remote));
    // What the store has of both runs, in both: the fields the API's view once lacked.
    for (const shown of [local, remote]) {
      expect(shown).toMatchObject({
        runNumber: 1,
        attempt: 1,
        sha: expect.any(String),
        ref: 'refs/heads/main',
      });
      expect(shown.concurrency).toMatchObject({ group: 'shape', at: expect.any(Number) });
      const [build] = list(shown.jobs);
      expect(build).toMatchObject({ matrix: { node: 20 }, outputs: { version: '1.2' }, attempt: 2 });
      expect(build).toHaveProperty('queuedAt');
      expect(build).toHaveProperty('priority', 'normal');
      expect(list(build?.attempts)).toHaveLength(1);
    }
    expect(local.workflowPath).toBe('local.yml');
    expect(remote.workflowPath).toBe('fleet.yml');
    // The fleet-only field left out above is there, and only there.
    expect(list(remote.jobs)[0]).toHaveProperty('runner.name', 'vm');
    expect(list(local.jobs)[0]).not.toHaveProperty('runner');

    const [localListed] = list(await printed(['runs']));
    const [remoteListed] = list(await printed(['runs', ...server], env));
    expect(localListed?.id).toBe(localId);
    expect(remoteListed?.id).toBe(serverId);
    expect(shapeOf(localListed ?? {})).toEqual(shapeOf(remoteListed ?? {}));
    expect(list(localListed?.jobs).map((job) => job.outputs)).toEqual([{ version: '1.2' }, {}]);
  }, 60_000);
});

/** A workflow whose build retries a step and then the job, and whose test fails its first run (counted in `counter`-*). */
const retriedAndRerun = (counter: string) => `name: same-text
jobs:
  build:
    runs-on: self-hosted
    retry: {max-attempts: 2, delay: 10ms}
    steps:
      - run: echo building
      - name: fetch
        run: |
          ${failsUntil(`${counter}-fetch`, 2)}
        retry: {max-attempts: 2, delay: 10ms}
      - name: flaky
        run: |
          ${failsUntil(`${counter}-flaky`, 2)}
  test:
    needs: build
    runs-on: self-hosted
    steps:
      - name: check
        run: |
          ${failsUntil(`${counter}-check`, 2)}
`;

/**
 * What must differ between a local run and a server's: run ids, times and durations, and the fleet
 * runner's name (a local job has none). The rest of the text is the same.
 */
const sameText = (text: string) =>
  text
    .replace(/^Run \d+ of/m, 'Run ID of')
    .replace(/^\d+ +/gm, 'ID ')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'TIME')
    .replace(/\b\d+(?:ms|\.\ds|m\d+s)\b/g, 'T')
    .replace(/ (?:last ran )?on runner vm \([0-9a-f]+\)/g, '')
    // The columns of `runs`, padded around the cells replaced above; the indents of `show` stay.
    .replace(/(\S) {2,}/g, '$1 ');

/**
 * `valkyrie show RUN` and `valkyrie runs` print the same text of a local run as of a server's run of
 * the same workflow (one function each prints the run's view). They once differed: local show left
 * out a re-run's `, attempt 2`, local runs its `(attempt 2)`, and the runs table's time column was
 * STARTED locally (the start, or the submission of a run not started) but CREATED with --server.
 */
describe('show and runs, of a local run and of a server run of one workflow', () => {
  it('print the same text, but for ids, times and the fleet runner', async () => {
    ws.write('local-same.yml', retriedAndRerun(join(ws.dir, 'local-same')));
    ws.write('fleet-same.yml', retriedAndRerun(join(ws.dir, 'fleet-same')));
    const ran = await ws.run(['run', 'local-same.yml', '--json']);
    expect(statuses(ran.stdout), ran.stderr).toEqual({ build: 'succeeded', test: 'failed' });
    const localId = String(events(ran.stdout).find((event) => event.type === 'run.started')?.runId);
    const submitted = await startSubmit(ws, processes, serverUrl, submitToken, 'fleet-same.yml', [
      '--no-bundle',
    ]).done;
    expect(statuses(submitted.stdout), submitted.stderr).toEqual({ build: 'succeeded', test: 'failed' });
    const serverId = String(events(submitted.stdout).find((event) => event.type === 'run.started')?.runId);
    const server = ['--server', serverUrl];
    const rerunLocal = await ws.run(['rerun', localId]);
    expect(rerunLocal.code, rerunLocal.stderr).toBe(0);
    const rerunFleet = await ws.run(['rerun', serverId, '--follow', ...server], {
      VALKYRIE_TOKEN: submitToken,
    });
    expect(rerunFleet.code, rerunFleet.stderr).toBe(0);

    const env = { VALKYRIE_TOKEN: readToken };
    const printed = async (args: string[], withEnv: Record<string, string> = {}) => {
      const result = await ws.run(args, withEnv);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    const local = await printed(['show', localId]);
    const remote = await printed(['show', serverId, ...server], env);
    expect(sameText(local)).toBe(sameText(remote));
    expect(sameText(local).split('\n')[0]).toBe('Run ID of same-text (#1, attempt 2): succeeded T');
    expect(remote).toMatch(/ on runner vm \([0-9a-f]+\)/);

    const listed = ['runs', '--workflow', 'same-text'];
    const localRuns = await printed(listed);
    const remoteRuns = await printed([...listed, ...server], env);
    expect(sameText(localRuns)).toBe(sameText(remoteRuns));
    expect(sameText(localRuns)).toBe(
      'RUN STATUS CREATED DURATION WORKFLOW\nID succeeded TIME T same-text #1 (attempt 2)\n',
    );
  }, 90_000);
});

/**
 * A job back in the queue, held until its retry delay ends: `show --server` says until when, as
 * `show` of the server's store does (jobLine's `not before`). The client once read no `notBefore` of
 * the server's view, and the line read as a job no runner takes.
 */
describe('show --server of a job waiting out its retry delay', () => {
  it('says until when it is held, as local show of the same run does', async () => {
    const file = ws.write(
      'held.yml',
      `name: held
jobs:
  wait:
    runs-on: self-hosted
    retry: {max-attempts: 2, delay: 10m}
    steps:
      - run: exit 1
`,
    );
    const server = ['--server', serverUrl];
    const submitted = await ws.run(['submit', file, '--no-bundle', '--json', ...server], {
      VALKYRIE_TOKEN: submitToken,
    });
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = String(events(submitted.stdout)[0]?.runId);
    const env = { VALKYRIE_TOKEN: readToken };
    let held: Shown['jobs'][number] | undefined;
    for (let wait = 0; wait < 200 && held?.notBefore === undefined; wait++) {
      const shown = JSON.parse((await ws.run(['show', runId, '--json', ...server], env)).stdout) as Shown;
      held = shown.jobs.find((job) => job.status === 'queued' && job.attempt === 2);
      if (held?.notBefore === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(held?.notBefore).toBeGreaterThan(Date.now());

    const remote = await ws.run(['show', runId, ...server], env);
    const local = await ws.run(['show', runId, '--db', join(ws.dir, '.valkyrie', 'server', 'valkyrie.db')]);
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toMatch(/^ {2}● queued +wait not before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(remote.stdout).toBe(local.stdout);
    expect((await ws.run(['cancel', runId, ...server], { VALKYRIE_TOKEN: submitToken })).code).toBe(0);
  }, 60_000);
});
