import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asRunId, type RunId } from '../../src/core/ids.js';
import { thisProcess } from '../../src/engine/run-owner.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { clockAhead } from './clock-ahead.js';
import { startTestServer } from './helpers.js';
import { slowValidWorkflow, watchLoopLag } from './loop-lag.js';
import { noticed, tookOver } from './takeover-notices.js';

// A takeover parses the run's stored workflow again, on the server's parse thread (the built one in
// dist/: `npm run build` after editing the parser); past the limit it is put off to the next sweep,
// and after three time-outs in a row parsed with a longer limit, past which it is put off with a
// back-off (run-takeover.ts says why).
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-takeover-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A run of slowValidWorkflow, submitted to a server now gone; its heartbeat is fresh still. Submitting
 * it takes seconds (its parse, on the thread), so it is submitted once, and each case takes over a
 * copy of that store of its own.
 */
let submitted: { path: string; runId: RunId } | undefined;
beforeAll(async () => {
  const path = join(dir, 'submitted.db');
  // Generous: the submission is parsed on the thread too, 7 to 12 s on a loaded machine.
  const first = await startTestServer({ stores: openSqliteStores(path), workflowParseTimeoutMs: 120_000 });
  const created = await first.request('POST', '/api/v1/runs', { body: { workflow: slowValidWorkflow } });
  expect(created.status).toBe(201);
  const runId = asRunId((created.body as { run: { id: string } }).run.id);
  await first.server.destroy();
  submitted = { path, runId };
}, 150_000);

function interruptedSlowRun(name: string): { path: string; runId: RunId } {
  if (submitted === undefined) throw new Error('the run was not submitted');
  const path = join(dir, `${name}.db`);
  // The server closed its store; copy a WAL file too, should one be left.
  for (const suffix of ['', '-wal'])
    if (existsSync(submitted.path + suffix)) copyFileSync(submitted.path + suffix, path + suffix);
  return { path, runId: submitted.runId };
}

async function waitFor(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await done()); waited += 50) {
    if (waited > 100_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function heartbeatSince(stores: Stores, runId: RunId, since: number): Promise<boolean> {
  const ownership = (await stores.recovery.ownerships([runId])).get(runId);
  return ownership !== undefined && ownership.heartbeatAt >= since;
}

const putOff = (runId: string, limit: string) =>
  `taking over run ${runId}: parsing its stored workflow took longer than ${limit} s; retrying at the next sweep`;

it('takes over a run of a workflow that takes seconds to parse without stalling the event loop, and does not lose it to the parse limit', async () => {
  const { path, runId } = interruptedSlowRun('slow');
  // Not ahead yet: the run's heartbeat is fresh, and its first sweep leaves it.
  const clock = clockAhead(0);
  const notices: string[] = [];
  const stores = openSqliteStores(path);
  const second = await startTestServer({
    stores,
    clock,
    workflowParseTimeoutMs: 50,
    takeoverParseTimeoutMs: 120_000,
    takeoverIntervalMs: 100,
    logNotice: (line) => notices.push(line),
  });
  const lag = watchLoopLag();
  clock.advance(10_000);
  const since = clock.now();
  await waitFor(`run ${runId} taken over`, () => heartbeatSince(stores, runId, since));
  const longestGap = lag.stop();
  // Parsed on the event loop, the whole parse was one gap: 2 s and more.
  expect(longestGap).toBeLessThan(1_000);
  const line = putOff(runId, '0.05');
  await noticed(notices, tookOver(runId));
  expect(notices).toEqual([
    line,
    line,
    `${line}, with a limit of 120 s`,
    expect.stringMatching(tookOver(runId)),
  ]);
  const { run } = (await second.request('GET', `/api/v1/runs/${runId}`)).body as {
    run: { status: string; jobs: { status: string }[] };
  };
  expect([run.status, run.jobs.map((job) => job.status)]).toEqual(['running', ['queued']]);
}, 150_000);

it('never parses a stored workflow without a limit: past ten times the limit, the takeover backs off', async () => {
  const { path, runId } = interruptedSlowRun('bounded');
  const clock = clockAhead(10_000);
  const notices: string[] = [];
  const stores = openSqliteStores(path);
  const before = (await stores.recovery.ownerships([runId])).get(runId);
  await startTestServer({
    stores,
    clock,
    // 10× is 0.5 s, which the 2 s and more this workflow takes to parse always exceeds.
    workflowParseTimeoutMs: 50,
    takeoverIntervalMs: 100,
    logNotice: (line) => notices.push(line),
  });
  await waitFor('two time-outs past the longest limit', () => notices.length >= 5);
  const line = putOff(runId, '0.05');
  const longest = `taking over run ${runId}: parsing its stored workflow took longer than 0.5 s, a takeover's longest limit; the run stays unclaimed, tried again in`;
  expect(notices.slice(0, 5)).toEqual([
    line,
    line,
    `${line}, with a limit of 0.5 s`,
    `${longest} 1 s`,
    `${longest} 2 s`,
  ]);
  expect((await stores.recovery.ownerships([runId])).get(runId)).toEqual(before);
}, 150_000);

it("forgets a run's time-outs once another replica took it over: should it be interrupted again, they count from zero", async () => {
  const { path, runId } = interruptedSlowRun('replica');
  const clock = clockAhead(10_000);
  const notices: string[] = [];
  const stores = openSqliteStores(path);
  let claimed: Promise<unknown> | undefined;
  await startTestServer({
    stores,
    clock,
    workflowParseTimeoutMs: 50,
    takeoverIntervalMs: 100,
    logNotice: (line) => {
      notices.push(line);
      // After its first time-out, another replica (here: its heartbeat) takes the run over.
      claimed ??= stores.recovery.ownerships([runId]).then((ownerships) =>
        stores.recovery.claim(runId, ownerships.get(runId), {
          owner: thisProcess(),
          heartbeatAt: clock.now(),
        }),
      );
    },
  });
  await waitFor('the claim', () => claimed !== undefined);
  expect(await claimed).toMatchObject({ kind: 'claimed' });
  const seen = notices.length;
  // Sweeps every 100 ms find it alive meanwhile: generous.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(notices.length).toBe(seen);
  clock.advance(10_000);
  await waitFor('two more time-outs', () => notices.length >= seen + 2);
  const line = putOff(runId, '0.05');
  expect(notices.slice(seen, seen + 2)).toEqual([line, line]);
}, 150_000);
