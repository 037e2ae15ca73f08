import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memberIdFor } from '../../src/cli/concurrency-admission.js';
import type { QueueSettings } from '../../src/cli/queue-options.js';
import { refusedBeforeJoining } from '../../src/cli/submission-check.js';
import type { WorkflowGroup } from '../../src/engine/workflow-group.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parsedWorkflow } from '../engine/plane-fixtures.js';

const now = 1_700_000_000_000;
const hour = 3_600_000;
const workflow = parsedWorkflow(
  'name: deploy\nconcurrency: deploy\njobs:\n  a: { runs-on: x, steps: [{ run: "true" }] }\n  b: { runs-on: x, steps: [{ run: "true" }] }\n',
);
const group: WorkflowGroup = { group: 'deploy', cancelInProgress: true, queue: false };
const keyed = (key: string, queueCapacity = 100): QueueSettings => ({
  agingIntervalMs: 60_000,
  queueCapacity,
  idempotency: { key, windowMs: hour },
});

describe('refusedBeforeJoining: what valkyrie run checks before it joins its concurrency group', () => {
  let dir: string;
  let stores: Stores;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'valkyrie-submission-check-'));
    stores = openSqliteStores(join(dir, 'state.db'));
  });
  afterEach(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const join_ = (memberId: string, at = now) =>
    stores.concurrency.join({ ...group, memberId }, { now: at, staleBefore: at - 10_000 });

  it('finds the run that holds the key, before the capacity', async () => {
    const created = await stores.runs.submitRun(
      { workflowName: 'deploy', workflowPath: 'w.yml', createdAt: now - 1 },
      { plannedJobs: 2, idempotency: { key: 'k', windowMs: hour } },
    );
    if (created.kind !== 'created') throw new Error(created.kind);
    const refused = await refusedBeforeJoining(stores, workflow, group, keyed('k', 2), now);
    expect(refused).toEqual({ kind: 'duplicate', run: await stores.runs.getRun(created.run.id) });
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('other', 2), now)).toEqual({
      kind: 'queue_full',
      capacity: 2,
      unfinishedJobs: 2,
      plannedJobs: 2,
    });
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('other', 4), now)).toBe(undefined);
  });

  it('finds a run with the key that waits for the group in another process (no run record yet)', async () => {
    await join_(memberIdFor(undefined));
    await join_(memberIdFor('k'));
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('k'), now + 1)).toEqual({
      kind: 'duplicate_waiting',
      group: 'deploy',
      workflowName: 'deploy',
    });
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('k2'), now + 1)).toBe(undefined);
  });

  it('ignores a member with the key that is replaced, stale, or joined outside the window', async () => {
    await join_(memberIdFor(undefined));
    await join_(memberIdFor('replaced'));
    await join_(memberIdFor(undefined));
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('replaced'), now + 1)).toBe(undefined);
    const stale = { key: 'stale', at: now - 20_000 };
    await join_(memberIdFor(stale.key), stale.at);
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('stale'), now)).toBe(undefined);
    await join_(memberIdFor('old'), now);
    const later = now + 2 * hour;
    await stores.concurrency.heartbeat((await stores.concurrency.list('deploy')).at(-1)?.memberId ?? '', {
      now: later,
      staleBefore: later - 10_000,
    });
    expect(await refusedBeforeJoining(stores, workflow, group, keyed('old'), later)).toBe(undefined);
  });

  it('checks nothing for a run without a group: the store decides when it creates the run', async () => {
    await join_(memberIdFor('k'));
    expect(await refusedBeforeJoining(stores, workflow, undefined, keyed('k', 1), now)).toBe(undefined);
  });
});
