import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { clockAhead } from './clock-ahead.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';

// The server parses a stored workflow on its parse thread: the built one in dist/ (`npm run build`).
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-stored-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What an earlier Valkyrie admitted and a submission is now refused for: a context and hashFiles()
 * where GitHub's context-availability table does not allow them (both evaluate when the job runs).
 */
const older = `name: older
jobs:
  build:
    runs-on: linux
    if: \${{ secrets.X == '' }}
    strategy:
      fail-fast: \${{ matrix.os != 'win' }}
      matrix:
        os: [linux]
    outputs:
      key: \${{ hashFiles('*.lock') }}
    steps:
      - run: make
  after:
    needs: build
    runs-on: linux
    steps:
      - run: echo "\${{ needs.build.outputs.key }}"
`;

/** The same jobs, in expressions this version admits: what is submitted, before its text is made `older`. */
const admitted = older
  .replace("secrets.X == ''", "github.event_name != ''")
  .replace("matrix.os != 'win'", 'true')
  .replace("hashFiles('*.lock')", 'github.sha');

/**
 * A run submitted to `server`, on the SQLite file `path`, whose stored text is then `older`, written
 * through the store as an earlier Valkyrie stored it when it admitted the run.
 */
async function storedAsOlder(path: string, server: TestServer): Promise<string> {
  const created = await server.request('POST', '/api/v1/runs', { body: { workflow: admitted } });
  expect(created.status).toBe(201);
  const runId = (created.body as { run: { id: string } }).run.id;
  const stores = openSqliteStores(path);
  try {
    const stored = await stores.recovery.getResumable(asRunId(runId));
    if (stored?.ownership === undefined) throw new Error(`run ${runId} was not stored for takeover`);
    await stores.recovery.saveResumable(
      asRunId(runId),
      { source: older, request: stored.request },
      stored.ownership,
    );
  } finally {
    await stores.close();
  }
  return runId;
}

it('refuses a new submission of the text, but re-runs a failed run stored with it', async () => {
  const path = join(dir, 'rerun.db');
  const server = await startTestServer({ stores: openSqliteStores(path) });
  const refused = await server.request('POST', '/api/v1/runs', { body: { workflow: older } });
  expect(refused).toMatchObject({ status: 400, body: { code: 'VK_INVALID_WORKFLOW' } });

  const runId = await storedAsOlder(path, server);
  const runner = await connectScriptedRunner(
    server.server.url,
    await credential(server.request, server.token),
    1,
  );
  const [build] = await runner.leases(1);
  if (build === undefined) throw new Error('no lease');
  runner.transport.send(jobCompleted(build, { kind: 'failed', reason: 'exit code 2', exitCode: 2 }));
  await waitForRunStatus(server.request, runId, 'failed');

  const rerun = await server.request('POST', `/api/v1/runs/${runId}/rerun`);
  expect(rerun).toMatchObject({ status: 202, body: { run: { id: runId, status: 'running', attempt: 2 } } });
  const [, again] = await runner.leases(2);
  if (again === undefined) throw new Error('no lease for the re-run');
  runner.transport.send(jobCompleted(again));
  const [, , after] = await runner.leases(3);
  if (after === undefined) throw new Error('no lease for after');
  runner.transport.send(jobCompleted(after));
  const succeeded = await waitForRunStatus(server.request, runId, 'succeeded');
  expect(succeeded.jobs.map((job) => [job.name, job.status, job.attempt])).toEqual([
    ['build (linux)', 'succeeded', 2],
    ['after', 'succeeded', 2],
  ]);
  runner.transport.close();
  await server.server.destroy();
});

it('takes over a run stored with the text rather than cancelling it', async () => {
  const path = join(dir, 'takeover.db');
  const first = await startTestServer({ stores: openSqliteStores(path) });
  const runId = await storedAsOlder(path, first);
  await first.server.destroy();

  // The wall clock 10 s on: the first server's heartbeat is stale at the second's first sweep.
  const notices: string[] = [];
  const second = await startTestServer({
    stores: openSqliteStores(path),
    clock: clockAhead(10_000),
    takeoverIntervalMs: 100,
    logNotice: (line) => notices.push(line),
  });
  const runner = await connectScriptedRunner(
    second.server.url,
    await credential(second.request, second.token),
    1,
  );
  // Its first job is offered once the run is taken over; a run cancelled instead offers none.
  const cancelled = waitForRunStatus(second.request, runId, 'cancelled').then(
    (run) => Promise.reject(new Error(`the takeover cancelled the run: ${JSON.stringify(run.jobs)}`)),
    () => new Promise<never>(() => {}),
  );
  const [build] = await Promise.race([runner.leases(1), cancelled]);
  if (build === undefined) throw new Error('no lease');
  runner.transport.send(jobCompleted(build));
  const [, after] = await runner.leases(2);
  if (after === undefined) throw new Error('no lease for after');
  runner.transport.send(jobCompleted(after));
  const succeeded = await waitForRunStatus(second.request, runId, 'succeeded');
  expect(succeeded.jobs.map((job) => [job.name, job.status])).toEqual([
    ['build (linux)', 'succeeded'],
    ['after', 'succeeded'],
  ]);
  expect(notices.filter((line) => line.includes('no longer parses'))).toEqual([]);
  runner.transport.close();
  await second.server.destroy();
});
