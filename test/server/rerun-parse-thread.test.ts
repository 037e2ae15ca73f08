import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { slowValidWorkflow, watchLoopLag } from './loop-lag.js';
import { replicaSqliteStores } from './replica-stores.js';

// A re-run parses the run's stored workflow again, on the server's parse thread as a submission
// (the built one in dist/: `npm run build` after editing the parser).
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-rerun-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('re-runs a run of a workflow that takes seconds to parse without stalling the event loop, and refuses one past the limit', async () => {
  const path = join(dir, 'valkyrie.db');
  // Generous: the submission is parsed on the thread too, 7 to 12 s on a loaded machine.
  const server = await startTestServer({ stores: openSqliteStores(path), workflowParseTimeoutMs: 120_000 });
  const created = await server.request('POST', '/api/v1/runs', { body: { workflow: slowValidWorkflow } });
  expect(created.status).toBe(201);
  const runId = (created.body as { run: { id: string } }).run.id;
  const runner = await connectScriptedRunner(
    server.server.url,
    await credential(server.request, server.token),
    1,
  );
  const [lease] = await runner.leases(1);
  if (lease === undefined) throw new Error('no lease');
  runner.transport.send(jobCompleted(lease, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }));
  await waitForRunStatus(server.request, runId, 'failed');

  // A replica on the same store with a limit the stored workflow does not fit: nothing changes.
  const strict = await startTestServer({ stores: replicaSqliteStores(path), workflowParseTimeoutMs: 50 });
  expect(await strict.request('POST', `/api/v1/runs/${runId}/rerun`)).toMatchObject({
    status: 413,
    body: {
      code: 'VK_WORKFLOW_PARSE_TIMEOUT',
      message: `workflow.yml: parsing run ${runId}'s stored workflow took longer than 0.05 s, the server's limit, so it was stopped; the run was not re-run`,
    },
  });
  expect(await waitForRunStatus(server.request, runId, 'failed')).toMatchObject({ attempt: 1 });

  const lag = watchLoopLag();
  const rerun = await server.request('POST', `/api/v1/runs/${runId}/rerun`);
  const longestGap = lag.stop();
  expect(rerun).toMatchObject({ status: 202, body: { run: { id: runId, status: 'running', attempt: 2 } } });
  // Parsed on the event loop, the whole parse was one gap: 2 s and more.
  expect(longestGap).toBeLessThan(1_000);
  runner.transport.close();
}, 120_000);
