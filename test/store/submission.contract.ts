import { describe, expect, it } from 'vitest';
import { jobIdFor, type RunId } from '../../src/core/ids.js';
import type { JobStatus } from '../../src/core/outcome.js';
import type { NewRun, RunStore } from '../../src/store/runs.js';
import type { SubmitOutcome } from '../../src/store/submissions.js';
import { type StoresFactory, useStores } from './fixture.js';

const t0 = 1_700_000_000_000;
const hour = 3_600_000;

const newRun = (overrides: Partial<NewRun> = {}): NewRun => ({
  workflowName: 'ci',
  workflowPath: 'ci.yml',
  createdAt: t0,
  ...overrides,
});

async function addJobs(runs: RunStore, runId: RunId, statuses: readonly JobStatus[]): Promise<void> {
  await runs.addJobs(
    statuses.map((status, i) => ({
      id: jobIdFor(runId, i + 1),
      runId,
      key: `j${i}`,
      name: `j${i}`,
      matrix: {},
      status,
    })),
  );
}

function created(outcome: SubmitOutcome): RunId {
  if (outcome.kind !== 'created') throw new Error(`expected a created run, got ${outcome.kind}`);
  return outcome.run.id;
}

/** Admission (submitRun): idempotency keys and the queue capacity, atomic with the run's creation. */
export function submissionContract(make: StoresFactory): void {
  describe('submissions', () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    it('counts unfinished jobs of unfinished runs, planned ones not added yet included', async () => {
      expect(await runs().countUnfinishedJobs()).toBe(0);
      const a = created(await runs().submitRun(newRun(), { plannedJobs: 5 }));
      expect(await runs().countUnfinishedJobs()).toBe(5);
      await addJobs(runs(), a, ['running', 'succeeded', 'queued']);
      // 5 planned, 1 final: 4 to go (2 of them not added yet).
      expect(await runs().countUnfinishedJobs()).toBe(4);
      await addJobs(runs(), created(await runs().submitRun(newRun(), { plannedJobs: 1 })), [
        'pending',
        'pending',
        'failed',
      ]);
      // More jobs than planned (a dynamic matrix): the added ones count.
      expect(await runs().countUnfinishedJobs()).toBe(6);
      await runs().updateRun(a, { status: 'succeeded', finishedAt: t0 });
      expect(await runs().countUnfinishedJobs()).toBe(2);
    });

    it('refuses a run past the capacity and writes nothing', async () => {
      created(await runs().submitRun(newRun(), { plannedJobs: 7, queueCapacity: 10 }));
      const before = await runs().listRuns();
      const outcome = await runs().submitRun(newRun({ workflowName: 'other' }), {
        plannedJobs: 4,
        queueCapacity: 10,
        idempotency: { key: 'k', windowMs: hour },
      });
      expect(outcome).toEqual({ kind: 'queue_full', capacity: 10, unfinishedJobs: 7, plannedJobs: 4 });
      expect(await runs().listRuns()).toEqual(before);
      // The refused run did not take the key either.
      const retry = await runs().submitRun(newRun(), {
        plannedJobs: 3,
        queueCapacity: 10,
        idempotency: { key: 'k', windowMs: hour },
      });
      expect(retry.kind).toBe('created');
      expect(await runs().countUnfinishedJobs()).toBe(10);
    });

    it('admits concurrent submissions only up to the capacity', async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, () => runs().submitRun(newRun(), { plannedJobs: 2, queueCapacity: 7 })),
      );
      expect(outcomes.filter((outcome) => outcome.kind === 'created')).toHaveLength(3);
      expect(await runs().listRuns()).toHaveLength(3);
    });

    it('returns the run that holds an idempotency key within the window, and creates nothing', async () => {
      const key = { key: 'deploy-42', windowMs: hour };
      const first = await runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key });
      const again = await runs().submitRun(newRun({ createdAt: t0 + hour - 1 }), {
        plannedJobs: 1,
        idempotency: key,
      });
      expect(first.kind).toBe('created');
      expect(again).toEqual({ kind: 'duplicate', run: await runs().getRun(created(first)) });
      expect(await runs().listRuns()).toHaveLength(1);
      const other = await runs().submitRun(newRun(), {
        plannedJobs: 1,
        idempotency: { key: 'other', windowMs: hour },
      });
      expect(other.kind).toBe('created');
    });

    it("returns the holder's request fingerprint with a duplicate; a moved key takes the new one", async () => {
      const key = { key: 'k', windowMs: hour, fingerprint: 'sha256:first' };
      const id = created(await runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key }));
      const again = await runs().submitRun(newRun(), {
        plannedJobs: 1,
        idempotency: { ...key, fingerprint: 'sha256:other' },
      });
      expect(again).toMatchObject({ kind: 'duplicate', run: { id }, fingerprint: 'sha256:first' });
      const later = { key: 'k', windowMs: hour };
      created(
        await runs().submitRun(newRun({ createdAt: t0 + hour }), { plannedJobs: 1, idempotency: later }),
      );
      const moved = await runs().submitRun(newRun({ createdAt: t0 + hour }), {
        plannedJobs: 1,
        idempotency: later,
      });
      expect(moved.kind).toBe('duplicate');
      expect(moved).not.toHaveProperty('fingerprint');
    });

    it('reports the holder with its current status', async () => {
      const key = { key: 'k', windowMs: hour };
      const id = created(await runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key }));
      await runs().updateRun(id, { status: 'failed', startedAt: t0, finishedAt: t0 + 5 });
      const again = await runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key });
      expect(again.kind === 'duplicate' && again.run).toMatchObject({
        id,
        status: 'failed',
        finishedAt: t0 + 5,
      });
    });

    it('moves a key whose window has passed to a new run', async () => {
      const key = { key: 'k', windowMs: hour };
      const first = created(await runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key }));
      const second = created(
        await runs().submitRun(newRun({ createdAt: t0 + hour }), { plannedJobs: 1, idempotency: key }),
      );
      expect(second).not.toBe(first);
      const third = await runs().submitRun(newRun({ createdAt: t0 + hour + 1 }), {
        plannedJobs: 1,
        idempotency: key,
      });
      expect(third.kind === 'duplicate' && third.run.id).toBe(second);
    });

    it('creates exactly one run for concurrent submissions with one key', async () => {
      const key = { key: 'same', windowMs: hour };
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () => runs().submitRun(newRun(), { plannedJobs: 1, idempotency: key })),
      );
      const ids = new Set(outcomes.map((outcome) => ('run' in outcome ? outcome.run.id : outcome.kind)));
      expect(outcomes.filter((outcome) => outcome.kind === 'created')).toHaveLength(1);
      expect(ids.size).toBe(1);
      expect(await runs().listRuns()).toHaveLength(1);
    });

    it('creates exactly one run for one key submitted through two handles at once (two processes)', async () => {
      const other = await stores.another();
      const key = { key: 'across', windowMs: hour };
      for (let round = 0; round < 10; round++) {
        const roundKey = { ...key, key: `${key.key}-${round}` };
        const outcomes = await Promise.all([
          runs().submitRun(newRun(), { plannedJobs: 1, idempotency: roundKey }),
          other.runs.submitRun(newRun(), { plannedJobs: 1, idempotency: roundKey }),
        ]);
        expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['created', 'duplicate']);
      }
      expect(await runs().listRuns({ limit: 100 })).toHaveLength(10);
    });

    it('keeps the capacity across two handles submitting at once', async () => {
      const other = await stores.another();
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? runs() : other.runs).submitRun(newRun(), { plannedJobs: 3, queueCapacity: 10 }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.kind === 'created')).toHaveLength(3);
      expect(await runs().countUnfinishedJobs()).toBe(9);
    });
  });
}
