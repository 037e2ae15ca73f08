import { describe, expect, it } from 'vitest';
import type { NodeInput, WorkflowDefinition, WorkflowNode } from '../../src/library/workflow.js';
import { fixture, openTestEngine } from './helpers.js';

interface Sum {
  readonly total: number;
  readonly saw: unknown;
}

/**
 * Compile-time checks (tsc over test/): each `@ts-expect-error` fails the type check if nothing is
 * wrong there. The workflows also run: the types refuse what the runtime takes, nothing more.
 */
describe('workflow node types', () => {
  it("checks each node's input against its own task's NodeInput, as enqueueMany checks a request's", async () => {
    const { engine } = await openTestEngine();
    const sum = engine.task<NodeInput<number>, Sum>('sum', { module: fixture(), exportName: 'sum' });
    const shaped = engine.task<NodeInput<{ width: number }>, unknown>('shaped', { module: fixture() });
    const result = await engine.runWorkflow({
      nodes: [
        { id: 'a', task: sum, input: 1 },
        { id: 'b', task: shaped, input: { width: 3 } },
        // Left out, whatever the task (the task receives input: undefined).
        { id: 'c', task: shaped },
      ],
      edges: [{ from: 'a', to: 'b' }],
    });
    expect(result.outputs).toEqual({
      a: { total: 1, saw: { input: 1, parents: [] } },
      b: { input: { width: 3 }, parents: { a: { total: 1, saw: { input: 1, parents: [] } } } },
      c: { input: undefined, parents: {} },
    });

    const wrong = await engine.runWorkflow({
      nodes: [
        { id: 'a', task: sum, input: 1 },
        // @ts-expect-error the second node's input is not sum's (a number)
        { id: 'b', task: sum, input: '2' },
        // @ts-expect-error a misspelt member of shaped's input
        { id: 'c', task: shaped, input: { widht: 3 } },
      ],
      edges: [{ from: 'a', to: 'b' }],
    });
    expect(wrong.outputs).toMatchObject({ b: { total: '21' }, c: { input: { widht: 3 } } });
    const built = [{ id: 'a', task: shaped, input: { widht: 3 } }];
    // @ts-expect-error nodes built apart are checked too
    await expect(engine.runWorkflow({ nodes: built })).resolves.toMatchObject({ kind: 'succeeded' });
  });

  it('takes any input for a task typed otherwise or given by name, as before', async () => {
    const { engine } = await openTestEngine();
    const untyped = engine.task('untyped', { module: fixture() });
    const plain = engine.task<{ n: number }, unknown>('plain', { module: fixture() });
    const tick = engine.task<void, unknown>('tick', { module: fixture() });
    const result = await engine.runWorkflow({
      nodes: [
        { id: 'a', task: untyped, input: 'anything' },
        { id: 'b', task: plain, input: 'anything: its task does not take a NodeInput' },
        { id: 'c', task: 'untyped', input: 3 },
        { id: 'd', task: tick },
      ],
    });
    expect(result.kind).toBe('succeeded');
    const nodes: WorkflowNode[] = [{ id: 'a', task: plain, input: 1 }];
    const definition: WorkflowDefinition = { nodes };
    await expect(engine.runWorkflow(definition)).resolves.toMatchObject({ kind: 'succeeded' });
  });
});
