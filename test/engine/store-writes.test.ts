import { describe, expect, it } from 'vitest';
import type { JobId } from '../../src/core/ids.js';
import { StoreWrites } from '../../src/engine/store-writes.js';
import type { LogLine } from '../../src/store/logs.js';
import type { JobUpdate } from '../../src/store/runs.js';

/** Writes that settle when the test says, each logged when it is started. */
function scriptedStore() {
  const started: string[] = [];
  const pending = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  const start = (name: string) =>
    new Promise<void>((resolve, reject) => {
      started.push(name);
      pending.set(name, { resolve, reject });
    });
  const runs = {
    updateJobs: (updates: readonly JobUpdate[], lines: readonly LogLine[] = []) =>
      start(
        `update ${updates.map((u) => u.id).join(',')}${lines.length === 0 ? '' : ` with ${lines.map((line) => line.text).join(',')}`}`,
      ),
  };
  const logs = {
    append: (lines: readonly LogLine[]) => start(`append ${lines.map((line) => line.text).join(',')}`),
  };
  return {
    runs,
    logs,
    started,
    start,
    settle: (name: string) => pending.get(name)?.resolve(),
    fail: (name: string) => pending.get(name)?.reject(new Error(`${name} failed`)),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('StoreWrites', () => {
  it('hands job updates held in a turn to the store before the next other write, in one call', () => {
    const store = scriptedStore();
    const writes = new StoreWrites(store.runs, store.logs);
    writes.updateJob('a' as JobId, { status: 'queued' });
    writes.updateJob('b' as JobId, { status: 'queued' });
    writes.write(() => store.start('release group'));
    expect(store.started).toEqual(['update a,b', 'release group']);
  });

  it('holds log lines with the job updates and hands them over in the same call, before other writes', async () => {
    const store = scriptedStore();
    const writes = new StoreWrites(store.runs, store.logs);
    const line = (text: string) =>
      ({ runId: '1', jobId: text, stepIndex: -1, stream: 'system', at: 1, text }) as LogLine;
    writes.appendLog(line('x'));
    writes.updateJob('a' as JobId, { status: 'running' });
    writes.appendLog(line('y'));
    await tick();
    expect(store.started).toEqual(['update a with x,y']);
    // Lines held without a job update go as an append of their own.
    writes.appendLog(line('z'));
    writes.write(() => store.start('other'));
    expect(store.started).toEqual(['update a with x,y', 'append z', 'other']);
  });

  it('runs each afterAll waiter once every earlier write settled, after `failed` heard of those that failed', async () => {
    const store = scriptedStore();
    const heard: string[] = [];
    const writes = new StoreWrites(store.runs, store.logs, {
      failed: (error) => heard.push((error as Error).message),
    });
    writes.write(() => store.start('one'));
    writes.afterAll(() => heard.push('first'));
    writes.write(() => store.start('two'));
    writes.afterAll(() => heard.push('second'));
    store.settle('two');
    await tick();
    expect(heard).toEqual([]);
    store.fail('one');
    await tick();
    expect(heard).toEqual(['one failed', 'first', 'second']);
  });

  it('drops the job updates and log lines held when a write fails: they were made after it', async () => {
    const store = scriptedStore();
    const writes = new StoreWrites(store.runs, store.logs, { failed: () => {} });
    writes.write(() => store.start('one'));
    store.fail('one');
    // Made before the failure is heard of, which comes first in the microtask queue.
    writes.updateJob('a' as JobId, { status: 'succeeded' });
    writes.appendLog({ runId: '1', jobId: 'a', stepIndex: 0, stream: 'stdout', at: 1, text: 'x' } as LogLine);
    await tick();
    writes.updateJob('b' as JobId, { status: 'queued' });
    await tick();
    expect(store.started).toEqual(['one', 'update b']);
  });

  it('still hands later batches to their waiters when an earlier waiter throws', async () => {
    const store = scriptedStore();
    const writes = new StoreWrites(store.runs, store.logs);
    const heard: string[] = [];
    writes.write(() => store.start('one'));
    writes.afterAll(() => {
      heard.push('first');
      throw new Error('a listener threw');
    });
    writes.write(() => store.start('two'));
    writes.afterAll(() => heard.push('second'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      store.settle('two');
      store.settle('one');
      await tick();
      await tick();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(heard).toEqual(['first', 'second']);
    expect(unhandled).toEqual([new Error('a listener threw')]);
  });

  it('is idle once every write has settled, one that a waiter of afterAll started meanwhile included', async () => {
    const store = scriptedStore();
    const writes = new StoreWrites(store.runs, store.logs);
    writes.write(() => store.start('job rows'));
    // As a run's end is written: after the writes before it have settled.
    writes.afterAll(() => writes.write(() => store.start('run end')));
    let idle = false;
    void writes.idle().then(() => {
      idle = true;
    });
    store.settle('job rows');
    await tick();
    expect(store.started).toEqual(['job rows', 'run end']);
    expect(idle).toBe(false);
    store.settle('run end');
    await tick();
    expect(idle).toBe(true);
  });
});
