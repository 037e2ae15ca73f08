import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readServerRun } from '../../../src/cli/run-answer.js';
import { colors } from '../../../src/cli/views/format.js';
import { runDetailLines } from '../../../src/cli/views/run-detail.js';
import { jobIdFor } from '../../../src/core/ids.js';
import type { JobStatus } from '../../../src/core/outcome.js';
import { runView } from '../../../src/server/run-views.js';
import type { RunOwnership, StoredRunRequest } from '../../../src/store/recovery.js';
import { processRunOwner } from '../../../src/store/run-fence.js';
import { openSqliteStores } from '../../../src/store/sqlite/index.js';
import type { Stores } from '../../../src/store/store.js';

const t0 = 1_700_000_000_000;
const source = 'name: ci\non: push\njobs:\n  a:\n    runs-on: local\n    steps:\n      - run: a\n';
const owner = (heartbeatAt: number): RunOwnership => ({ owner: processRunOwner(), heartbeatAt });

const requestIn = (workspace: string): StoredRunRequest => ({
  workspace,
  actor: 'ada',
  vars: {},
  envOverrides: {},
  extraLabels: [],
  secretNames: [],
});

const opened: Stores[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const stores of opened.splice(0)) await stores[Symbol.asyncDispose]();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A run stored in a real SQLite file whose jobs ended `ended` (`[status, attempt]` each), then
 * reopened by a re-run of the jobs at `rerun`: no job has started its next attempt yet.
 */
async function reopenedRun(ended: readonly (readonly [JobStatus, number])[], rerun: readonly number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'vk-rerun-waiting-'));
  dirs.push(dir);
  const stores = openSqliteStores(join(dir, 'state.db'));
  opened.push(stores);
  const created = await stores.runs.submitRun(
    { workflowName: 'ci', workflowPath: 'ci.yml', createdAt: t0 },
    { plannedJobs: ended.length },
  );
  if (created.kind !== 'created') throw new Error(`expected a created run, got ${created.kind}`);
  const runId = created.run.id;
  const ids = ended.map((_, i) => jobIdFor(runId, i + 1));
  await stores.recovery.saveResumable(runId, { source, request: requestIn(dir) }, owner(t0));
  await stores.runs.addJobs(
    ended.map(([status], i) => ({
      id: jobIdFor(runId, i + 1),
      runId,
      key: String.fromCharCode(97 + i),
      name: String.fromCharCode(97 + i),
      matrix: {},
      status,
    })),
  );
  // A job is stored at its first attempt; a later one is written as the engine writes a retry's.
  for (const [i, [, attempt]] of ended.entries())
    if (attempt > 1) await stores.runs.updateJob(jobIdFor(runId, i + 1), { attempt });
  const runStatus = ended.some(([status]) => status === 'failed') ? 'failed' : 'succeeded';
  await stores.runs.updateRun(runId, { status: runStatus, startedAt: t0, finishedAt: t0 + 10_000 });
  const jobIds = ids.filter((_, i) => rerun.includes(i));
  const reopen = await stores.recovery.reopen(runId, runStatus, owner(t0 + 20_000), { jobIds });
  expect(reopen.kind).toBe('claimed');
  const run = await stores.runs.getRun(runId);
  if (run === undefined) throw new Error('the run is gone');
  return runView(stores, run, undefined, undefined, { details: true });
}

/** The job lines of `valkyrie show`, locally and with `--server` (the view as JSON, read back). */
function shownJobLines(view: Awaited<ReturnType<typeof reopenedRun>>): { local: string[]; server: string[] } {
  const lines = (run: Parameters<typeof runDetailLines>[0]) =>
    runDetailLines(run, colors(false)).filter((line) => line.startsWith('  ') && !line.startsWith('    '));
  return { local: lines(view), server: lines(readServerRun(JSON.parse(JSON.stringify(view))).run) };
}

describe("valkyrie show of a re-run's jobs that wait to run again", () => {
  it('says a job the re-run of failed jobs runs again waits to, not its earlier attempt as its state', async () => {
    const view = await reopenedRun(
      [
        ['succeeded', 1],
        ['failed', 1],
        ['skipped', 1],
      ],
      [1, 2],
    );
    expect(view.jobs.map((job) => job.waitingToRunAgain)).toEqual([undefined, true, true]);
    const expected = [
      '  ✓ succeeded a',
      '  ● waiting   b to run again (attempt 1: failed)',
      '  ● waiting   c to run again (attempt 1: skipped)',
    ];
    expect(shownJobLines(view)).toEqual({ local: expected, server: expected });
  });

  it('of a re-run of all jobs, names the attempt that ended, past the first', async () => {
    const view = await reopenedRun(
      [
        ['succeeded', 2],
        ['succeeded', 2],
      ],
      [0, 1],
    );
    const expected = [
      '  ● waiting   a to run again (attempt 2: succeeded)',
      '  ● waiting   b to run again (attempt 2: succeeded)',
    ];
    expect(shownJobLines(view)).toEqual({ local: expected, server: expected });
  });
});
