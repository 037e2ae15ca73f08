import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { asRunId, type RunId } from '../../src/core/ids.js';
import { WorkflowParseThread } from '../../src/server/workflow-parse-thread.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { clockAhead } from './clock-ahead.js';
import { startTestServer } from './helpers.js';
import { noticed, tookOver } from './takeover-notices.js';

const dir = mkdtempSync(join(tmpdir(), 'valkyrie-takeover-failures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const workflow = (name: string) =>
  `name: ${name}\njobs:\n  build: { runs-on: linux, steps: [{ run: make }] }\n`;

it('goes on with the other runs when one run cannot be taken over, and tries that one again later', async () => {
  const path = join(dir, 'valkyrie.db');
  const first = await startTestServer({ stores: openSqliteStores(path) });
  const runIds: RunId[] = [];
  for (const name of ['one', 'two']) {
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow: workflow(name) } });
    expect(created.status).toBe(201);
    runIds.push(asRunId((created.body as { run: { id: string } }).run.id));
  }
  await first.server.destroy();

  // The first run the sweep parses is the one whose parse thread dies, at every try.
  const parse = WorkflowParseThread.prototype.parse;
  let failing: string | undefined;
  vi.spyOn(WorkflowParseThread.prototype, 'parse').mockImplementation(function (
    this: WorkflowParseThread,
    ...args
  ) {
    failing ??= args[0];
    if (args[0] === failing)
      return Promise.reject(new Error('the workflow parse thread stopped (exit code 1): out of memory'));
    return parse.apply(this, args);
  });
  const notices: string[] = [];
  const stores = openSqliteStores(path);
  const clock = clockAhead(10_000);
  const since = clock.now();
  await startTestServer({ stores, clock, takeoverIntervalMs: 50, logNotice: (line) => notices.push(line) });
  const heartbeats = async () => {
    const ownerships = await stores.recovery.ownerships(runIds);
    return runIds.map((runId) => (ownerships.get(runId)?.heartbeatAt ?? 0) >= since);
  };
  const failures = () => notices.filter((notice) => notice.startsWith('taking over run '));
  for (let waited = 0; failures().length < 2 || !(await heartbeats()).includes(true); waited += 50) {
    if (waited > 30_000) throw new Error(`no run taken over: ${JSON.stringify(notices)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const failingId = runIds[(await heartbeats()).indexOf(false)];
  const failed = `taking over run ${failingId} failed: the workflow parse thread stopped (exit code 1): out of memory; going on with the other runs, and trying it again in`;
  expect(failures().slice(0, 2)).toEqual([`${failed} 0.05 s`, `${failed} 0.1 s`]);
  expect(await heartbeats()).toEqual(runIds.map((runId) => runId !== failingId));
  for (const runId of runIds) if (runId !== failingId) await noticed(notices, tookOver(runId));
}, 60_000);
