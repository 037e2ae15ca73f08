import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../src/core/errors.js';
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from '../../src/library/workflow.js';
import { fixture, openTestEngine } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isValkyrieError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('Engine: workflows', () => {
  it('runs a fan-out/fan-in graph, giving each node its input and its parents outputs', async () => {
    const { engine, events } = await openTestEngine({ pool: { minThreads: 2, maxThreads: 2 } });
    const sum = engine.task('sum', { module: fixture(), exportName: 'sum' });
    //        ┌→ b ─┐
    //  a ────┼→ c ─┼→ e
    //        └→ d ─┘
    const result = await engine.runWorkflow({
      nodes: [
        { id: 'e', task: sum, input: 10_000 },
        { id: 'a', task: sum, input: 1 },
        { id: 'b', task: sum, input: 10 },
        { id: 'c', task: 'sum', input: 100 },
        { id: 'd', task: sum, input: 1_000 },
      ],
      edges: ['b', 'c', 'd'].flatMap((mid) => [
        { from: 'a', to: mid },
        { from: mid, to: 'e' },
      ]),
    });
    expect(result.kind).toBe('succeeded');
    expect(result.outputs).toEqual({
      a: { total: 1, saw: { input: 1, parents: [] } },
      b: { total: 11, saw: { input: 10, parents: ['a'] } },
      c: { total: 101, saw: { input: 100, parents: ['a'] } },
      d: { total: 1_001, saw: { input: 1_000, parents: ['a'] } },
      e: { total: 10_000 + 11 + 101 + 1_001, saw: { input: 10_000, parents: ['b', 'c', 'd'] } },
    });
    expect(result.nodes.e).toMatchObject({ kind: 'succeeded', attempts: 1 });
    // b, c and d are ready together and are all handed out before any of them has finished.
    const startedAt = new Map<string, number>();
    const succeededAt = new Map<string, number>();
    events.forEach((event, i) => {
      if (event.type === 'job.started') startedAt.set(event.jobId, i);
      if (event.type === 'job.succeeded') succeededAt.set(event.jobId, i);
    });
    const middle = [...startedAt.keys()].slice(1, 4);
    expect(startedAt.size).toBe(5);
    const lastMiddleStart = Math.max(...middle.map((id) => startedAt.get(id) ?? Number.NaN));
    const firstMiddleEnd = Math.min(...middle.map((id) => succeededAt.get(id) ?? Number.NaN));
    expect(lastMiddleStart).toBeLessThan(firstMiddleEnd);
  });

  it('rejects on a closed engine rather than throwing from the call, as for a bad graph', async () => {
    const { engine } = await openTestEngine();
    engine.task('sum', { module: fixture(), exportName: 'sum' });
    await engine.close();
    const definition: WorkflowDefinition = { nodes: [{ id: 'a', task: 'sum', input: 1 }], edges: [] };
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = engine.runWorkflow(definition);
    }).not.toThrow();
    expect(await rejection(result ?? Promise.resolve())).toEqual({
      code: 'VK_ENGINE_CLOSED',
      message: 'runWorkflow(): the engine is closing; the workflow was not accepted',
    });
  });

  it('skips every node downstream of a failed one, runs the rest, and retries per node', async () => {
    const { engine } = await openTestEngine();
    const sum = engine.task('sum', { module: fixture(), exportName: 'sum' });
    const fails = engine.task('fails', { module: fixture(), exportName: 'fails' });
    const result = await engine.runWorkflow({
      nodes: [
        { id: 'root', task: sum, input: 1 },
        { id: 'bad', task: fails, options: { retry: { maxAttempts: 2, retryOn: ['threw'] } } },
        { id: 'afterBad', task: sum, input: 2 },
        { id: 'deeper', task: sum, input: 3 },
        { id: 'side', task: sum, input: 4 },
      ],
      edges: [
        { from: 'root', to: 'bad' },
        { from: 'bad', to: 'afterBad' },
        { from: 'afterBad', to: 'deeper' },
        { from: 'side', to: 'deeper' },
        { from: 'root', to: 'side' },
      ],
    });
    expect(result.kind).toBe('failed');
    expect(result.nodes.bad).toMatchObject({ kind: 'failed', reason: 'threw', attempts: 2 });
    expect(result.nodes.afterBad).toEqual({ kind: 'skipped', blockedBy: 'bad' });
    expect(result.nodes.deeper).toEqual({ kind: 'skipped', blockedBy: 'bad' });
    expect(Object.keys(result.outputs).sort()).toEqual(['root', 'side']);
  });

  const invalid: [string, (task: string) => WorkflowDefinition, RegExp][] = [
    [
      'a cycle',
      (task) => ({
        nodes: [
          { id: 'a', task },
          { id: 'b', task },
          { id: 'c', task },
        ],
        edges: [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'c' },
          { from: 'c', to: 'b' },
        ],
      }),
      /the edges form a cycle: (b → c → b|c → b → c)/,
    ],
    [
      'a self edge',
      (task) => ({ nodes: [{ id: 'a', task }], edges: [{ from: 'a', to: 'a' }] }),
      /cycle: a → a/,
    ],
    [
      'an edge to an unknown node',
      (task) => ({
        nodes: [
          { id: 'a', task },
          { id: 'b', task },
        ],
        edges: [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'zz' },
        ],
      }),
      /edges\[1\]\.to names no node: received 'zz'; nodes are 'a', 'b'/,
    ],
    [
      'a duplicate node id',
      (task) => ({
        nodes: [
          { id: 'a', task },
          { id: 'a', task },
        ],
      }),
      /nodes\[1\]\.id 'a' is used by another node/,
    ],
    [
      'an unknown task',
      () => ({ nodes: [{ id: 'a', task: 'missing' }] }),
      /nodes\[0\] \('a'\).*received 'missing'/,
    ],
    // These three were taken and ignored: the node ran uncancellable, without its input, or the
    // letters of a string were read as edges.
    [
      "a node's signal, which nothing would listen to",
      (task) => ({ nodes: [{ id: 'a', task, options: { signal: new AbortController().signal } }] }),
      /nodes\[0\] \('a'\) options\.signal: a workflow node takes no signal/,
    ],
    [
      'a node field the library does not know',
      (task) => ({ nodes: [{ id: 'a', task, inputs: 1 } as WorkflowNode] }),
      /nodes\[0\] \('a'\) has no option "inputs" \(did you mean input\?\)/,
    ],
    [
      'edges that are not an array',
      (task) => ({ nodes: [{ id: 'a', task }], edges: 'ab' as unknown as WorkflowDefinition['edges'] }),
      /edges must be an array of \{ from, to \}; received string/,
    ],
    [
      'an edge field the library does not know',
      (task) => ({
        nodes: [
          { id: 'a', task },
          { id: 'b', task },
        ],
        edges: [{ from: 'a', to: 'b', target: 'b' } as WorkflowEdge],
      }),
      /edges\[0\] has no option "target" \(did you mean to\?\)/,
    ],
  ];
  for (const [what, definition, message] of invalid) {
    it(`rejects ${what} before any node runs`, async () => {
      const { engine, events } = await openTestEngine();
      engine.task('sum', { module: fixture(), exportName: 'sum' });
      const error = await rejection(engine.runWorkflow(definition('sum')));
      expect(error.code).toBe('VK_WORKFLOW_GRAPH');
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/nothing ran$/);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual([]);
      expect(engine.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
    });
  }
});
