import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobId } from '../../src/core/ids.js';
import type { RunEvent } from '../../src/engine/events.js';
import { followStoredRun } from '../../src/server/stored-run-follower.js';
import type { LogStore } from '../../src/store/logs.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';

const dirs: string[] = [];
const opened: Stores[] = [];
afterEach(async () => {
  for (const stores of opened.splice(0)) await stores.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStores(): Stores {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-follower-'));
  dirs.push(dir);
  const stores = openSqliteStores(join(dir, 'state.db'));
  opened.push(stores);
  return stores;
}

/** A short name for an event, to compare orders: `type job[#step]`. */
function label(event: RunEvent): string {
  const record = event as {
    type: string;
    name?: string;
    job?: string;
    index?: number;
    step?: { index: number };
  };
  const job = record.name ?? record.job ?? '';
  const step = record.index ?? record.step?.index;
  return `${record.type} ${job}${step === undefined ? '' : `#${step}`}`.trim();
}

describe('followStoredRun', () => {
  it('tells a step or job that started between its reads before the lines it printed', async () => {
    const stores = openStores();
    const t = 1_700_000_000_000;
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'w.yml', createdAt: t });
    await stores.runs.updateRun(run.id, { status: 'running', startedAt: t });
    const job = (name: string) => ({ id: `${run.id}.${name}` as JobId, runId: run.id, key: name, name });
    await stores.runs.addJobs([
      { ...job('a'), matrix: {}, status: 'running' },
      { ...job('b'), matrix: {}, status: 'queued' },
    ]);
    await stores.runs.updateJob(job('a').id, { startedAt: t + 1 });
    const line = (name: string, text: string) => ({
      runId: run.id,
      jobId: job(name).id,
      stepIndex: 0,
      stream: 'stdout' as const,
      at: t + 3,
      text,
    });
    // The driver's writes that land after the follower read jobs and steps, before it reads logs: job
    // a's step starts and prints; job b starts, its step starts and prints; job c is added (a matrix
    // leg, say), starts, and its step prints.
    let raced = false;
    const logs: LogStore = {
      append: (lines) => stores.logs.append(lines),
      read: (...args) => stores.logs.read(...args),
      endPosition: (runId) => stores.logs.endPosition(runId),
      lineEnd: (...args) => stores.logs.lineEnd(...args),
      readAfter: async (runId, position, options) => {
        if (!raced) {
          raced = true;
          await stores.runs.recordStep({ jobId: job('a').id, index: 0, name: 'step', startedAt: t + 2 });
          await stores.logs.append([line('a', 'from a')]);
          await stores.runs.updateJob(job('b').id, { status: 'running', startedAt: t + 2 });
          await stores.runs.recordStep({ jobId: job('b').id, index: 0, name: 'step', startedAt: t + 2 });
          await stores.logs.append([line('b', 'from b')]);
          await stores.runs.addJobs([{ ...job('c'), matrix: {}, status: 'running' }]);
          await stores.runs.updateJob(job('c').id, { startedAt: t + 2 });
          await stores.runs.recordStep({ jobId: job('c').id, index: 0, name: 'step', startedAt: t + 2 });
          await stores.logs.append([line('c', 'from c')]);
        }
        return stores.logs.readAfter(runId, position, options);
      },
    };
    const events: RunEvent[] = [];
    const ended = new Promise<void>((resolve) => {
      const stop = followStoredRun(
        { runs: stores.runs, logs },
        run.id,
        { event: (e) => events.push(e), end: resolve },
        {
          pollMs: 20,
          logError: (error) => {
            throw error;
          },
        },
      );
      setTimeout(stop, 5_000).unref();
    });
    // Bounded: a follower that never tells c's line fails the comparison below instead of timing out.
    for (let wait = 0; wait < 100 && !events.some((event) => label(event) === 'log c'); wait++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const name of ['a', 'b', 'c']) {
      const finished = {
        outcome: 'success',
        conclusion: 'success',
        startedAt: t + 2,
        finishedAt: t + 4,
      } as const;
      await stores.runs.recordStep({ jobId: job(name).id, index: 0, name: 'step', ...finished });
      await stores.runs.updateJob(job(name).id, { status: 'succeeded', finishedAt: t + 5 });
    }
    await stores.runs.updateRun(run.id, { status: 'succeeded', finishedAt: t + 6 });
    await ended;
    // Each job's events in the feed's order (jobs' events interleave as they come, in any order).
    const perJob: Record<string, string[]> = {};
    for (const event of events) {
      const job = (label(event).split(' ')[1] ?? 'run').split('#')[0] ?? '';
      perJob[job] ??= [];
      perJob[job].push(label(event));
    }
    const whole = (name: string) => [
      `job.started ${name}`,
      `step.started ${name}#0`,
      `log ${name}`,
      `step.completed ${name}#0`,
      `job.completed ${name}`,
    ];
    expect(perJob).toEqual({
      run: ['run.started', 'run.completed'],
      a: whole('a'),
      b: whole('b'),
      c: whole('c'),
    });
    expect([events.at(0)?.type, events.at(-1)?.type]).toEqual(['run.started', 'run.completed']);
  });

  it("tells a job's log a page at a time, each once the subscriber has taken the one before", async () => {
    const stores = openStores();
    const t = 1_700_000_000_000;
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'w.yml', createdAt: t });
    await stores.runs.updateRun(run.id, { status: 'running', startedAt: t });
    const jobId = `${run.id}.a` as JobId;
    await stores.runs.addJobs([
      { id: jobId, runId: run.id, key: 'a', name: 'a', matrix: {}, status: 'running' },
    ]);
    await stores.runs.updateJob(jobId, { startedAt: t + 1 });
    await stores.logs.append(
      Array.from({ length: 2500 }, (_, i) => ({
        runId: run.id,
        jobId,
        stepIndex: 0,
        stream: 'stdout' as const,
        at: t + 2,
        text: `line ${i}`,
      })),
    );
    const events: RunEvent[] = [];
    let release = (_: boolean) => {};
    let ended = false;
    const stop = followStoredRun(
      stores,
      run.id,
      {
        event: (event) => events.push(event),
        drained: () =>
          new Promise<boolean>((resolve) => {
            release = resolve;
          }),
        end: () => {
          ended = true;
        },
      },
      { pollMs: 20, jobId, logError: (error) => expect.fail(String(error)) },
    );
    const lines = () => events.filter((event) => event.type === 'log').length;
    await expect.poll(lines).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines()).toBe(1000);
    expect(events.slice(0, 2).map(label)).toEqual(['run.started', 'job.started a']);
    release(true);
    await expect.poll(lines).toBe(2000);
    release(true);
    await expect.poll(lines).toBe(2500);
    // Gone: nothing more is read, and the follow ends.
    release(false);
    await expect.poll(() => ended).toBe(true);
    expect(events.filter((event) => event.type === 'log').map((event) => event.text)).toEqual(
      Array.from({ length: 2500 }, (_, i) => `line ${i}`),
    );
    stop();
  });
});
