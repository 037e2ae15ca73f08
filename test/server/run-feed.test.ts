import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type JobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import { type RunEvent, unstoredLine } from '../../src/engine/events.js';
import { FeedLines } from '../../src/server/feed-lines.js';
import { RunFeed, type RunSubscriber } from '../../src/server/run-feed.js';
import { logEventOf } from '../../src/server/stored-run-events.js';
import type { LogLine, LogStore } from '../../src/store/logs.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A way to hold the store's reads: `close` makes every readAfter wait until `open`. */
class ReadGate {
  #opened: Promise<void> = Promise.resolve();
  #open = () => {};
  close(): void {
    this.#opened = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  open(): void {
    this.#open();
  }
  get passed(): Promise<void> {
    return this.#opened;
  }
}

/**
 * A run with one job on SQLite, a RunFeed over it, and `print`, which does what the control plane
 * does with a runner's lines: appends them (not awaited) and tells each. The feed's reads of the log
 * are counted (their limits) and pass `gate`.
 */
async function feedOnSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-feed-'));
  const stores: Stores = openSqliteStores(join(dir, 'state.db'));
  const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
  const jobId = jobIdFor(run.id, 0);
  await stores.runs.addJobs([
    { id: jobId, runId: run.id, key: 'build', name: 'build', matrix: {}, status: 'running' },
  ]);
  const reads: number[] = [];
  const gate = new ReadGate();
  const logs: LogStore = {
    append: (lines) => stores.logs.append(lines),
    read: (...args) => stores.logs.read(...args),
    endPosition: (runId) => stores.logs.endPosition(runId),
    lineEnd: (...args) => stores.logs.lineEnd(...args),
    readAfter: async (runId, position, options) => {
      reads.push(options?.limit ?? 1000);
      await gate.passed;
      return stores.logs.readAfter(runId, position, options);
    },
  };
  const errors: unknown[] = [];
  const feed = new RunFeed(
    { runs: stores.runs, logs },
    { pollMs: 20, logError: (error) => errors.push(error) },
  );
  cleanups.push(async () => {
    feed.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const runId: RunId = run.id;
  let at = 10;
  const tell = (event: RunEvent) => feed.publish(event);
  const print = (texts: readonly string[], fields: Partial<LogLine> = {}) => {
    const lines = texts.map((text) => ({
      runId,
      jobId,
      stepIndex: 0,
      stream: 'stdout' as const,
      at: at++,
      text,
      ...fields,
    }));
    void stores.logs.append(lines);
    for (const line of lines) tell(logEventOf(line, 'build'));
  };
  const started = (): RunEvent => ({ type: 'run.started', runId, runNumber: 1, workflow: 'ci', at: at++ });
  const step = (index: number): RunEvent => ({
    type: 'step.started',
    jobId,
    job: 'build',
    index,
    step: `step ${index}`,
    at: at++,
  });
  const completed = (): RunEvent => ({
    type: 'run.completed',
    runId,
    status: 'succeeded',
    durationMs: 5,
    jobs: [],
  });
  return { feed, stores, runId, jobId, reads, gate, errors, tell, print, started, step, completed };
}

/** A subscriber that records what it is told. */
function recorder(options: { drained?: () => Promise<boolean> } = {}) {
  const told: { event: RunEvent; id: string | undefined }[] = [];
  let resumed = 0;
  let ended = 0;
  let moved: string | undefined;
  const subscriber: RunSubscriber = {
    event: (event, id) => void told.push({ event, id }),
    resumed: () => void resumed++,
    moved: (to) => {
      moved = to;
    },
    end: () => void ended++,
    ...options,
  };
  return {
    subscriber,
    told,
    get resumed() {
      return resumed;
    },
    get ended() {
      return ended;
    },
    get moved() {
      return moved;
    },
  };
}

const textsOf = (told: readonly { event: RunEvent }[]) =>
  told.flatMap(({ event }) => (event.type === 'log' ? [event.text] : []));

const numbered = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

/** Several stretches: 2,500 lines (past two kept positions), 3 of a step's second attempt, an unstored line, 2 system lines. */
function tellSeveralStretches(run: Awaited<ReturnType<typeof feedOnSqlite>>, jobId: JobId): void {
  run.tell({ type: 'job.started', jobId, name: 'build', at: 5 });
  run.tell(run.step(0));
  run.print(numbered('first', 2500));
  run.tell(run.step(1));
  run.print(numbered('retried', 3), { stepIndex: 1, attempt: 2 });
  run.tell({
    type: 'log',
    jobId,
    job: jobId,
    stepIndex: -1,
    stream: 'system',
    text: `ignored a stale log for ${jobId}`,
    at: 7,
    [unstoredLine]: true,
  });
  run.print(['set up', 'waiting'], { stepIndex: -1, stream: 'system' });
}

describe('RunFeed', () => {
  it('replays a run of several stretches to a late subscriber, and to one resuming with Last-Event-ID, as a live one got it, reading the lines from the store a page at a time', async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    const live = recorder();
    await run.feed.subscribe(run.runId, live.subscriber);
    tellSeveralStretches(run, run.jobId);
    const count = 1 + 2 + 2500 + 1 + 3 + 1 + 2;
    expect(live.told).toHaveLength(count);
    expect(run.reads).toEqual([]);

    const late = recorder();
    await run.feed.subscribe(run.runId, late.subscriber);
    await expect.poll(() => late.told.length).toBe(count);
    expect(late.told).toEqual(live.told);
    expect(late.resumed).toBe(0);
    // Kept nowhere but in the store: read back in pages, none longer than the store's default.
    expect(run.reads.length).toBeGreaterThanOrEqual(4);
    expect(run.reads.every((limit) => limit <= 1000)).toBe(true);

    // After the step's start, the first line, mid-log (past a kept position), a stretch's last line,
    // the unstored line, and the last event.
    for (const after of [2, 3, 1502, 2502, 2507, count - 1]) {
      const resumed = recorder();
      const lastEventId = live.told[after]?.id;
      await run.feed.subscribe(run.runId, resumed.subscriber, lastEventId);
      await expect.poll(() => resumed.told.length).toBe(count - after - 1);
      expect(resumed.resumed).toBe(1);
      expect(resumed.told).toEqual(live.told.slice(after + 1));
    }

    run.tell(run.completed());
    expect(live.ended).toBe(1);
    expect(late.ended).toBe(1);
    expect(late.told.at(-1)?.event.type).toBe('run.completed');
    expect(run.errors).toEqual([]);
  });

  it('tells the events that come while a replay waits for the store after it, in order, none lost or told twice', async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    const live = recorder();
    await run.feed.subscribe(run.runId, live.subscriber);
    run.tell(run.step(0));
    run.print(numbered('early', 1500));
    run.gate.close();
    const late = recorder();
    await run.feed.subscribe(run.runId, late.subscriber);
    await expect.poll(() => run.reads.length).toBe(1);
    expect(textsOf(late.told)).toEqual([]);
    // Meanwhile: more lines of the stretch being read, a step, lines, an unstored line, the run's end.
    run.print(numbered('more', 700));
    run.tell(run.step(1));
    run.print(numbered('later', 1200), { stepIndex: 1 });
    run.tell({
      type: 'log',
      jobId: run.jobId,
      job: run.jobId,
      stepIndex: -1,
      stream: 'system',
      text: 'ignored a stale renew',
      at: 99,
      [unstoredLine]: true,
    });
    run.print(['last']);
    run.tell(run.completed());
    expect(live.ended).toBe(1);
    expect(late.ended).toBe(0);
    run.gate.open();
    await expect.poll(() => late.ended).toBe(1);
    expect(late.told).toEqual(live.told);
    expect(new Set(late.told.map(({ id }) => id)).size).toBe(late.told.length);
    expect(run.errors).toEqual([]);
  });

  it("starts a re-run's feed at the end of the run's log: a late subscriber gets the re-run's lines only", async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    run.print(['first attempt 1', 'first attempt 2']);
    run.tell(run.completed());
    expect(run.feed.isActive(run.runId)).toBe(false);
    // The re-run: its start, and at once (nothing awaited) the lines of the job's second attempt.
    run.tell(run.started());
    run.print(['second attempt 1', 'second attempt 2', 'second attempt 3'], { jobAttempt: 2 });
    const late = recorder();
    await run.feed.subscribe(run.runId, late.subscriber);
    await expect.poll(() => late.told.length).toBe(4);
    expect(textsOf(late.told)).toEqual(['second attempt 1', 'second attempt 2', 'second attempt 3']);
    expect(late.told.slice(1).every(({ event }) => event.type === 'log' && event.jobAttempt === 2)).toBe(
      true,
    );
  });

  it('waits for the subscriber to take each page of a long log before it reads the next', async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    run.print(numbered('line', 2500));
    let release = (_: boolean) => {};
    const late = recorder({
      drained: () =>
        new Promise<boolean>((resolve) => {
          release = resolve;
        }),
    });
    await run.feed.subscribe(run.runId, late.subscriber);
    await expect.poll(() => late.told.length).toBe(1001);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(late.told).toHaveLength(1001);
    expect(run.reads).toHaveLength(1);
    release(true);
    await expect.poll(() => late.told.length).toBe(2001);
    // The client is gone: nothing more is read.
    release(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(late.told).toHaveLength(2001);
    expect(run.reads).toHaveLength(2);
  });

  it('stops telling a live subscriber that falls behind, and catches it up from the store once its client has taken what it was sent', async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    let behind = false;
    let release = (_: boolean) => {};
    const slow = recorder({
      drained: () =>
        new Promise<boolean>((resolve) => {
          release = resolve;
        }),
    });
    const subscriber: RunSubscriber = { ...slow.subscriber, behind: () => behind };
    const unsubscribe = await run.feed.subscribe(run.runId, subscriber);
    const live = recorder();
    await run.feed.subscribe(run.runId, live.subscriber);
    run.print(numbered('kept up', 3));
    behind = true;
    run.print(['fell behind']);
    behind = false;
    run.print(numbered('while behind', 1500));
    run.tell(run.step(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Told the event it fell behind on, then nothing, not even from the store, until its client drains.
    expect(textsOf(slow.told)).toEqual([...numbered('kept up', 3), 'fell behind']);
    expect(run.reads).toEqual([]);
    release(true);
    // The lines from the store, a page at a time, waiting for the client between them.
    await expect.poll(() => slow.told.length).toBeGreaterThan(5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(slow.told.length).toBeLessThanOrEqual(5 + 1000);
    expect(run.reads.every((limit) => limit <= 1000)).toBe(true);
    await expect
      .poll(() => {
        release(true);
        return slow.told.length;
      })
      .toBe(live.told.length);
    // Caught up, it is told the live events again, as they come.
    const readsCaughtUp = run.reads.length;
    run.print(['live again']);
    expect(slow.told).toEqual(live.told);
    expect(run.reads).toHaveLength(readsCaughtUp);
    run.tell(run.completed());
    expect(slow.ended).toBe(1);
    expect(run.errors).toEqual([]);
    unsubscribe();
  });

  it('ends a subscriber being replayed when the run moves to another replica, telling it nothing more', async () => {
    const run = await feedOnSqlite();
    run.tell(run.started());
    run.print(numbered('line', 10));
    run.gate.close();
    const late = recorder();
    const unsubscribe = await run.feed.subscribe(run.runId, late.subscriber);
    const gone = recorder();
    const stop = await run.feed.subscribe(run.runId, gone.subscriber);
    await expect.poll(() => run.reads.length).toBe(2);
    stop();
    run.feed.abandon(run.runId, 'other/7');
    expect(late.moved).toBe('other/7');
    expect(late.ended).toBe(1);
    run.gate.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(late.told.map(({ event }) => event.type)).toEqual(['run.started']);
    expect(gone.told.map(({ event }) => event.type)).toEqual(['run.started']);
    expect(gone.ended).toBe(0);
    unsubscribe();
  });
});

describe('FeedLines', () => {
  it('finds a line told before the control plane handed it to the store (held to the end of the turn)', async () => {
    const run = await feedOnSqlite();
    await run.stores.logs.append([
      { runId: run.runId, jobId: run.jobId, stepIndex: 0, stream: 'stdout', at: 1, text: 'before' },
    ]);
    const lines = new FeedLines(run.stores.logs, run.runId);
    const line = (text: string): LogLine => ({
      runId: run.runId,
      jobId: run.jobId,
      stepIndex: -1,
      stream: 'system',
      at: 1,
      text,
    });
    await run.stores.logs.append([line('first')]);
    expect((await lines.read(0, 1)).map(({ text }) => text)).toEqual(['first']);
    // Told now, appended at the end of this turn (engine/store-writes.ts holds it with the job's row).
    queueMicrotask(() => void run.stores.logs.append([line('running on runner r')]));
    const read = lines.read(1, 1);
    expect((await read).map(({ text }) => text)).toEqual(['running on runner r']);
    // A line never stored is an error, not a wait for ever.
    await expect(lines.read(2, 1)).rejects.toMatchObject({ code: 'VK_INTERNAL' });
  });
});
