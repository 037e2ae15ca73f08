import { join } from 'node:path';
import { expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { connectScriptedRunner, credential, jobCompleted, startTestServer } from './helpers.js';

const workflow = `name: three
jobs:
  a: { runs-on: linux, steps: [{ run: echo a }] }
  b: { runs-on: linux, steps: [{ run: echo b }] }
  c: { runs-on: linux, steps: [{ run: echo c }] }
`;

it('a draining server hands out no new jobs, lets the running one report, and stops once it has', async () => {
  const { server, request, token, dir } = await startTestServer({ drainTimeoutMs: 10_000 });
  const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
  const created = await request('POST', '/api/v1/runs', { body: { workflow } });
  const runId = (created.body as { run: { id: string } }).run.id;
  const [lease] = await runner.leases(1);
  if (!lease) throw new Error('no lease');

  const started = Date.now();
  const closed = server.close();
  // The job leased before the drain still gets its workspace (a job token's route), and reports.
  const workspace = await request('GET', `/api/v1/jobs/${lease.jobId}/workspace`, {
    token: lease.jobToken ?? null,
  });
  expect(lease.jobToken).toBeDefined();
  // This run has no bundle: the route answers for the job, not 503 VK_SHUTTING_DOWN.
  expect(workspace.body).toMatchObject({ code: 'VK_BUNDLE_NOT_FOUND' });
  runner.transport.send(jobCompleted(lease));
  await closed;
  // Not the 10 s drain deadline: the server stopped once the running job had reported.
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(await runner.leases(1)).toHaveLength(1);
  await using stores = openSqliteStores(join(dir, 'valkyrie.db'));
  const jobs = await stores.runs.listJobs(asRunId(runId));
  expect(jobs.map((job) => job.status).sort()).toEqual(['queued', 'queued', 'succeeded']);
});
