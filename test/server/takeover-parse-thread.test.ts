import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { clockAhead } from './clock-ahead.js';
import { startTestServer } from './helpers.js';
import { slowValidWorkflow, watchLoopLag } from './loop-lag.js';

// A takeover parses the run's stored workflow again, on the server's parse thread (the built one in
// dist/: `npm run build` after editing the parser); past the limit it is put off to the next sweep,
// and after three time-outs in a row parsed without a limit (run-takeover.ts says why).
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-takeover-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('takes over a run of a workflow that takes seconds to parse without stalling the event loop, and does not lose it to the parse limit', async () => {
  const path = join(dir, 'valkyrie.db');
  // Generous: the submission is parsed on the thread too, 7 to 12 s on a loaded machine.
  const first = await startTestServer({ stores: openSqliteStores(path), workflowParseTimeoutMs: 120_000 });
  const created = await first.request('POST', '/api/v1/runs', { body: { workflow: slowValidWorkflow } });
  expect(created.status).toBe(201);
  const runId = asRunId((created.body as { run: { id: string } }).run.id);
  await first.server.destroy();

  // Not ahead yet: the run's heartbeat is fresh, and its first sweep leaves it.
  const clock = clockAhead(0);
  const notices: string[] = [];
  const stores = openSqliteStores(path);
  const second = await startTestServer({
    stores,
    clock,
    workflowParseTimeoutMs: 50,
    takeoverIntervalMs: 100,
    logNotice: (line) => notices.push(line),
  });
  const lag = watchLoopLag();
  clock.advance(10_000);
  const since = clock.now();
  for (let waited = 0; ; waited += 50) {
    const ownership = (await stores.recovery.ownerships([runId])).get(runId);
    if (ownership !== undefined && ownership.heartbeatAt >= since) break;
    if (waited > 100_000) throw new Error(`run ${runId} was not taken over`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const longestGap = lag.stop();
  // Parsed on the event loop, the whole parse was one gap: 2 s and more.
  expect(longestGap).toBeLessThan(1_000);
  const putOff = `taking over run ${runId}: parsing its stored workflow took longer than 0.05 s; retrying at the next sweep`;
  expect(notices).toEqual([putOff, putOff, `${putOff}, without a limit`]);
  const { run } = (await second.request('GET', `/api/v1/runs/${runId}`)).body as {
    run: { status: string; jobs: { status: string }[] };
  };
  expect([run.status, run.jobs.map((job) => job.status)]).toEqual(['running', ['queued']]);
}, 150_000);
