import { describe, expect, expectTypeOf, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import type { JobHandle } from '../../src/library/job-record.js';
import type { JobFunction, Jsonified } from '../../src/library/jsonified.js';
import type { NodeInput } from '../../src/library/workflow.js';
import { fixture, openTestEngine } from './helpers.js';

interface Stamp {
  readonly at: Date;
  readonly note?: string;
  readonly gone: undefined;
  describe(): string;
}

interface Tree {
  readonly name: string;
  readonly children: readonly Tree[];
}

/**
 * Compile-time checks (tsc over test/, as the other *-types tests): an `expectTypeOf` that does not
 * hold fails the type check. The jobs also run, so that the types are held to what arrives.
 */
describe('Jsonified', () => {
  it('maps a type to what JSON.parse(JSON.stringify(value)) gives', () => {
    expectTypeOf<Jsonified<Date>>().toEqualTypeOf<string>();
    expectTypeOf<Jsonified<Stamp>>().toEqualTypeOf<{ readonly at: string; readonly note?: string }>();
    expectTypeOf<Jsonified<{ a: string | undefined; b: number | (() => void) }>>().toEqualTypeOf<{
      a?: string;
      b?: number;
    }>();
    expectTypeOf<Jsonified<[Date, undefined, () => void]>>().toEqualTypeOf<[string, null, null]>();
    expectTypeOf<Jsonified<(Date | undefined)[]>>().toEqualTypeOf<(string | null)[]>();
    expectTypeOf<Jsonified<Record<string, Date>>>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<Jsonified<{ toJSON(): { n: Date } }>>().toEqualTypeOf<{ n: string }>();
    expectTypeOf<Jsonified<'a' | 3 | null>>().toEqualTypeOf<'a' | 3 | null>();
    expectTypeOf<Jsonified<{ m: Map<string, number>; n: bigint }>>().toEqualTypeOf<{ m: never; n: never }>();
    expectTypeOf<Jsonified<{ [key: symbol]: number; k: string }>>().toEqualTypeOf<{ k: string }>();
    expectTypeOf<Jsonified<Tree>['children'][number]['children']>().toEqualTypeOf<
      readonly Jsonified<Tree>[]
    >();
    // What types cannot follow, or need not.
    expectTypeOf<Jsonified<unknown>>().toEqualTypeOf<unknown>();
    expectTypeOf<Jsonified<undefined>>().toEqualTypeOf<undefined>();
    expectTypeOf<Jsonified<void>>().toEqualTypeOf<void>();
    expectTypeOf<Jsonified<{ n: number }>>().toEqualTypeOf<{ n: number }>();
  });

  it('types a handle, enqueueMany and a workflow with the JSON form of the task output', async () => {
    const { engine } = await openTestEngine();
    const stamp = engine.task<{ at: Date }, { at: Date }>('echo', { module: fixture() });
    const input = { at: new Date(0) };

    const outcome = await engine.enqueue(stamp, input).result;
    expectTypeOf(outcome).toEqualTypeOf<JobOutcome<{ at: string }>>();
    expect(outcome).toEqual({ kind: 'succeeded', output: { at: '1970-01-01T00:00:00.000Z' }, attempts: 1 });

    const [many] = engine.enqueueMany([{ task: stamp, input }]);
    expectTypeOf(many.result).resolves.toEqualTypeOf<JobOutcome<{ at: string }>>();
    // A task by name: the caller names its output type, and gets that type's JSON form.
    const named = engine.enqueueMany<Date>([{ task: 'echo', input: new Date(0) }]);
    expectTypeOf(named).toEqualTypeOf<JobHandle<string>[]>();
    await expect(named[0]?.result).resolves.toMatchObject({ output: '1970-01-01T00:00:00.000Z' });

    const node = engine.task<NodeInput<Date>, { at: Date }>('node', { module: fixture() });
    const result = await engine.runWorkflow({ nodes: [{ id: 'a', task: node, input: new Date(0) }] });
    expectTypeOf(result.outputs).toEqualTypeOf<Readonly<Record<string, { at: string }>>>();
    expect(result.outputs).toEqual({ a: { input: '1970-01-01T00:00:00.000Z', parents: {} } });
  });

  it("types a task's input, a workflow node's parents included, as it receives it", () => {
    type Resize = JobFunction<NodeInput<{ at: Date }, { fetch: Stamp }>, number>;
    expectTypeOf<Parameters<Resize>[0]>().toEqualTypeOf<{
      readonly input: { at: string };
      readonly parents: { readonly fetch: { readonly at: string; readonly note?: string } };
    }>();
    expectTypeOf<Parameters<JobFunction<{ when: Date | undefined }, void>>[0]>().toEqualTypeOf<{
      when?: string;
    }>();
  });
});
