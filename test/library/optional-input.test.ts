import { describe, expect, it } from 'vitest';
import { openPool, fixture as poolFixture } from '../executors/thread/helpers.js';
import { fixture, openTestEngine } from './helpers.js';

/**
 * A task whose input type accepts undefined (`void`, `undefined`, `T | undefined`) is enqueued and
 * run without an input, as BullMQ's `queue.add(name)` and graphile-worker's `addJob(name)` are; a task
 * that needs one still fails the type check without it. Compile-time checks (tsc over test/): each
 * `@ts-expect-error` fails the type check if nothing is wrong there. The calls also run: the task
 * (echo) receives undefined.
 */
describe('a task input that accepts undefined may be left out', () => {
  it('enqueue() and enqueueMany()', async () => {
    const { engine } = await openTestEngine();
    const tick = engine.task<void, unknown>('tick', { module: fixture() });
    const maybe = engine.task<{ n: number } | undefined, unknown>('maybe', { module: fixture() });
    const needs = engine.task<{ n: number }, { n: number }>('needs', { module: fixture() });

    const handles = [
      engine.enqueue(tick),
      engine.enqueue(maybe),
      engine.enqueue(tick, undefined, { priority: 'high' }),
      engine.enqueue(maybe, { n: 1 }),
      ...engine.enqueueMany([{ task: tick }, { task: maybe, options: { priority: 'low' } }]),
    ];
    // @ts-expect-error needs takes { n: number }: its input cannot be left out
    expect(() => engine.enqueue(needs)).not.toThrow();
    // @ts-expect-error nor can it be undefined
    expect(() => engine.enqueue(needs, undefined)).not.toThrow();
    // @ts-expect-error nor left out of a request
    expect(() => engine.enqueueMany([{ task: tick }, { task: needs }])).not.toThrow();
    // @ts-expect-error a void task takes no input
    expect(() => engine.enqueue(tick, { n: 1 })).not.toThrow();
    const outcomes = await Promise.all(handles.map((job) => job.result));
    expect(outcomes.map((outcome) => (outcome.kind === 'succeeded' ? outcome.output : outcome))).toEqual([
      undefined,
      undefined,
      undefined,
      { n: 1 },
      undefined,
      undefined,
    ]);
  });

  it('pool.run()', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const tick = pool.task<void, unknown>({ module: poolFixture('echo.mjs') });
    const needs = pool.task<number, number>({ module: poolFixture('echo.mjs'), exportName: 'syncDouble' });
    expect(await pool.run(tick)).toEqual({ kind: 'succeeded', output: undefined });
    expect(await pool.run(tick, undefined, { timeoutMs: 5_000 })).toEqual({
      kind: 'succeeded',
      output: undefined,
    });
    expect(await pool.run(needs, 2)).toEqual({ kind: 'succeeded', output: 4 });
    // @ts-expect-error syncDouble takes a number: its input cannot be left out (untyped, it runs on undefined)
    expect(await pool.run(needs)).toEqual({ kind: 'succeeded', output: Number.NaN });
  });

  it('workflow nodes', async () => {
    const { engine } = await openTestEngine();
    const tick = engine.task<void, unknown>('tick', { module: fixture() });
    const result = await engine.runWorkflow({ nodes: [{ id: 'a', task: tick }] });
    // The task got { input: undefined, parents: {} }; what it returned is JSON, which leaves the
    // undefined member out (docs/library.md, Job data is JSON).
    expect(result).toMatchObject({ kind: 'succeeded', outputs: { a: { parents: {} } } });
    expect(result.outputs.a).not.toHaveProperty('input');
  });
});
