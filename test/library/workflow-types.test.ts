import { describe, expect, expectTypeOf, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import type { NodeInput, NodeOutcome, WorkflowDefinition, WorkflowNode } from '../../src/library/workflow.js';
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

  it("types a node's parents as its task declares them, and the outputs as the nodes' tasks return", async () => {
    const { engine } = await openTestEngine();
    const sum = engine.task<NodeInput<number>, Sum>('sum', { module: fixture(), exportName: 'sum' });
    // Declares its parent 'a', a Sum: what the task function may rely on.
    type AfterA = NodeInput<number, { readonly a: Sum }>;
    const after = engine.task<AfterA, Sum>('after', { module: fixture(), exportName: 'sum' });
    const echo = engine.task<NodeInput<string>, NodeInput<string>>('echo', { module: fixture() });
    expectTypeOf<AfterA['parents']>().toEqualTypeOf<Readonly<{ readonly a: Sum }>>();
    expectTypeOf<NodeInput<number>['parents']>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
    // A task of declared parents still checks its node's input.
    // @ts-expect-error after's input is a number
    const wrong: WorkflowNode<typeof after> = { id: 'b', task: after, input: '1' };
    expect(wrong.input).toBe('1');

    const result = await engine.runWorkflow({
      nodes: [
        { id: 'a', task: sum, input: 1 },
        { id: 'b', task: after, input: 2 },
        { id: 'c', task: echo, input: 'c' },
      ],
      edges: [{ from: 'a', to: 'b' }],
    });
    expectTypeOf(result.outputs).toEqualTypeOf<Readonly<Record<string, Sum | NodeInput<string>>>>();
    expectTypeOf(result.nodes).toEqualTypeOf<
      Readonly<Record<string, NodeOutcome<Sum | NodeInput<string>>>>
    >();
    expect(result.outputs.b).toEqual({ total: 3, saw: { input: 2, parents: ['a'] } });
    const b = result.nodes.b;
    if (b?.kind === 'succeeded')
      expectTypeOf(b).toEqualTypeOf<Extract<JobOutcome<Sum | NodeInput<string>>, { kind: 'succeeded' }>>();

    // A task given by name returns anything: so may the workflow's nodes.
    const named = await engine.runWorkflow({
      nodes: [
        { id: 'a', task: sum, input: 1 },
        { id: 'n', task: 'sum' },
      ],
    });
    expectTypeOf(named.outputs).toEqualTypeOf<Readonly<Record<string, unknown>>>();
  });
});
