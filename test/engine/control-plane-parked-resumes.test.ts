import { describe, expect, it } from 'vitest';
import { asJobId, type RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { AwaitRunTakeover, ParkedResume } from '../../src/engine/parked-resumes.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, leasedOnFirstPlane, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 10_000;

function logLine(lease: Lease, text: string): RunnerMessage {
  const { jobId, fencingToken } = lease;
  return { type: 'log', jobId, fencingToken, entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text }] };
}

/** Waits in real time (the store answers in its own time) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let tries = 0; tries < 300; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a runner resuming a job before its run is taken over`, () => {
    const stores = useStores(make);

    /**
     * A control plane grants runner rnr_1 the job of a one-job run; then it is gone. A second control
     * plane, on another handle of the store, does not drive the run yet: its `awaitRunTakeover` is
     * the test's, which records what it is asked and settles when told.
     */
    async function runnerAway() {
      const workflow = oneJobWorkflow();
      const { runId, first, lease } = await leasedOnFirstPlane(stores(), workflow, identity, leaseTtlMs);
      first.send(logLine(lease, 'before'));
      await until(async () => (await stores().runs.listJobs(runId))[0]?.fencingToken !== undefined, 'stored');
      first.end.close('the server stopped');
      const asked: ParkedResume[] = [];
      const fates: (() => void)[] = [];
      const awaitRunTakeover: AwaitRunTakeover = (resume, signal) => {
        asked.push(resume);
        return new Promise<void>((resolve) => {
          fates.push(resolve);
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      };
      const clock = new ManualClock(1_700_000_007_000);
      const store = await stores.another();
      const plane = new ControlPlane(store, { clock, leaseTtlMs, awaitRunTakeover });
      return { workflow, plane, clock, lease, runId, store, asked, fates };
    }

    /** Runner rnr_1 back on `plane`, resuming `lease`, once its resume is parked. */
    async function parkedRunner(plane: ControlPlane, lease: Lease, asked: readonly ParkedResume[]) {
      const { jobId, fencingToken } = lease;
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId, fencingToken }],
      });
      await until(() => asked.length === 1, 'the resume was parked');
      return back;
    }

    /** Takes the run over as RunTakeover does. */
    async function takeOver(plane: ControlPlane, store: Stores, runId: RunId) {
      const record = await store.runs.getRun(runId);
      if (record === undefined) throw new Error('no run');
      const jobs = await store.runs.listJobs(runId);
      return plane.continueRun('resume', oneJobWorkflow(), runRequest, record, jobs);
    }

    it('parks the resume; after the takeover the runner has the lease and its held messages apply in order', async () => {
      const { plane, lease, runId, store, asked } = await runnerAway();
      const { jobId, fencingToken } = lease;
      const back = await parkedRunner(plane, lease, asked);
      expect(asked).toEqual([{ jobId, runnerId: 'rnr_1', fencingToken }]);
      for (const text of ['one', 'two', 'three']) back.send(logLine(lease, text));
      back.complete(lease);
      await settle();
      expect(back.of('error')).toEqual([]);
      const handle = await takeOver(plane, store, runId);
      expect(await handle.done).toBe('succeeded');
      expect(back.of('error')).toEqual([]);
      const [job] = await store.runs.listJobs(runId);
      expect(job?.attempt ?? 1).toBe(1);
      expect(await store.runs.listJobAttempts(asJobId(jobId))).toEqual([]);
      const lines = (await store.logs.read(runId, { jobId: asJobId(jobId) })).map((line) => line.text);
      expect(lines.filter((text) => !text.startsWith('running on'))).toEqual([
        'before',
        'one',
        'two',
        'three',
      ]);
    });

    it("takes a cancelled end this control plane did not ask for as a lost runner, not as the job's end", async () => {
      // The old server, if alive, may have reached the runner and cancelled the job.
      const { plane, lease, runId, store, asked } = await runnerAway();
      const back = await parkedRunner(plane, lease, asked);
      const handle = await takeOver(plane, store, runId);
      const { jobId, fencingToken } = lease;
      const outcome = { kind: 'cancelled', reason: 'cancelled' } as const;
      back.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
      // Requeued, not ended: the job is offered again (to this runner, which has a free slot now).
      await settle();
      const [again] = back.of('lease');
      expect(again?.fencingToken).toBeGreaterThan(fencingToken);
      if (again === undefined) throw new Error('the job was not leased again');
      back.complete(again);
      expect(await handle.done).toBe('succeeded');
      const lines = (await store.logs.read(runId)).map((line) => line.text);
      expect(lines).toContainEqual(expect.stringMatching(/^runner_lost: the runner cancelled the job/));
    });

    it('refuses the resume, then its held messages in order, when the wait ends without a takeover', async () => {
      const { plane, lease, asked, fates } = await runnerAway();
      const { jobId, fencingToken } = lease;
      const back = await parkedRunner(plane, lease, asked);
      back.send(logLine(lease, 'one'));
      back.send({ type: 'renew', jobId, fencingToken });
      await settle();
      expect(back.of('error')).toEqual([]);
      fates[0]?.();
      await until(() => back.of('error').length === 3, 'all were refused');
      expect(back.of('error').map((error) => error.refused)).toEqual(['register', 'log', 'renew']);
    });

    it('refuses the resume after one lease TTL whatever the wait says', async () => {
      const { plane, clock, lease, asked } = await runnerAway();
      const back = await parkedRunner(plane, lease, asked);
      await clock.advance(leaseTtlMs - 1);
      expect(back.of('error')).toEqual([]);
      await clock.advance(1);
      expect(back.of('error').map((error) => error.refused)).toEqual(['register']);
    });

    it("refuses at once, unparked, a resume by a runner the job never ran on; the runner's own is parked", async () => {
      const { plane, lease, runId, store, asked } = await runnerAway();
      const { jobId, fencingToken } = lease;
      const forger = new ScriptedRunner(plane, accepting, {
        identity: { runnerId: 'rnr_2', transport: 'websocket' },
        resume: [{ jobId, fencingToken }],
      });
      await until(() => forger.of('error').length === 1, 'the forged resume was refused');
      forger.send(logLine(lease, 'forged'));
      const back = await parkedRunner(plane, lease, asked);
      expect(asked).toEqual([{ jobId, runnerId: 'rnr_1', fencingToken }]);
      back.complete(lease);
      expect(await (await takeOver(plane, store, runId)).done).toBe('succeeded');
      expect(back.of('error')).toEqual([]);
      expect((await store.logs.read(runId)).map((line) => line.text)).not.toContain('forged');
    });

    it('past the bound on held messages, refuses the resume and all it held, in order', async () => {
      const { plane, lease, asked } = await runnerAway();
      const back = await parkedRunner(plane, lease, asked);
      // 10,000 messages are held; the next one ends the park.
      for (let i = 0; i <= 10_000; i++) back.send(logLine(lease, `line ${i}`));
      await settle();
      const refused = back.of('error');
      expect(refused).toHaveLength(10_002);
      expect(refused[0]?.refused).toBe('register');
      expect(refused.slice(1).every((error) => error.refused === 'log')).toBe(true);
    });
  });
}
