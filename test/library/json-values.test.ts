import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/library/engine.js';
import type { EngineEvent, JobOutcome } from '../../src/library/events.js';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

/**
 * One rule on every store (docs/library.md, Stores and durability): a job's input and output are
 * JSON, as BullMQ's and graphile-worker's job data are. The same program gets the same values, or
 * the same error, whichever store it is given: memory, SQLite or Postgres.
 */

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

/** Values JSON holds only in another form: each member as a task should then see it. */
function trickyInput() {
  return {
    when: new Date(0),
    point: new Point(3, 4),
    nan: Number.NaN,
    inf: Number.POSITIVE_INFINITY,
    negZero: -0,
    gone: undefined,
    count: new Number(3),
    list: [undefined, new Date(0), -0],
    // NUL and a lone surrogate: JSON text holds both (escaped).
    text: 'a\u0000b\uD800',
  };
}

const jsonInput = {
  kinds: {
    when: 'string',
    point: 'Object',
    nan: 'null',
    inf: 'null',
    negZero: 'number',
    count: 'number',
    list: 'Array',
    text: 'string',
  },
  list: ['null', 'string', 'number'],
  text: 'a\u0000b\uD800',
};
const jsonOutput = {
  ...jsonInput,
  output: { at: '1970-01-01T00:00:00.000Z', nan: null, negZero: 0, point: { x: 1 }, list: [null] },
};

/** A cycle: input.self.back is the input again. */
function cyclic(): Record<string, unknown> {
  const input: Record<string, unknown> = { when: 1 };
  input.self = { back: input };
  return input;
}

/** Inputs JSON cannot hold, with where each is refused. */
const refusedInputs: ReadonlyArray<readonly [unknown, string]> = [
  [{ when: { at: 10n } }, 'input.when.at is a BigInt'],
  [{ tags: new Set(['a']) }, 'input.tags is a Set'],
  [{ lookup: new Map([['a', 1]]) }, 'input.lookup is a Map'],
  [{ run: () => 1 }, 'input.run is a function'],
  [{ id: Symbol('id') }, 'input.id is a symbol'],
  [{ bytes: new Uint8Array(2) }, 'input.bytes is a Uint8Array'],
  [cyclic(), 'input.self.back is a reference back to input (a cycle)'],
];

function notJson(reason: 'input' | 'output', where: string, attempts: number): JobOutcome {
  return {
    kind: 'failed',
    reason,
    error: {
      name: 'TypeError',
      code: 'VK_NOT_JSON',
      message: `the ${reason} cannot be stored as JSON: ${where}, which JSON cannot hold`,
    },
    attempts,
  };
}

/** What `getStoredJob` says of a job; undefined in memory, which keeps no jobs. */
async function storedOutcome(engine: Engine, storeId: string | undefined): Promise<JobOutcome | undefined> {
  if (storeId === undefined) return undefined;
  return (await engine.getStoredJob(storeId))?.outcome;
}

for (const [name, make, skip] of engineStoreKinds) {
  const title = skip === undefined ? `job values on ${name}` : `job values on ${name} (skipped: ${skip})`;
  describe.skipIf(skip !== undefined)(title, () => {
    it('gives the task, the handle, the events and the store the JSON form of what was passed', async () => {
      const engine = await openOn(await make());
      const task = engine.task('inspectsInput', { module: fixture(), exportName: 'inspectsInput' });
      const events: EngineEvent[] = [];
      engine.onEvent((event) => events.push(event));
      const job = engine.enqueue(task, trickyInput());
      const outcome = await job.result;
      expect(outcome).toEqual({ kind: 'succeeded', output: jsonOutput, attempts: 1 });
      // toEqual tells -0 from 0: the output's -0 is 0, as JSON keeps it.
      expect(Object.is((outcome as { output: typeof jsonOutput }).output.output.negZero, 0)).toBe(true);
      expect(events.find((event) => event.type === 'job.succeeded')).toMatchObject({ output: jsonOutput });
      if (name !== 'memory') expect(await storedOutcome(engine, job.storeId)).toEqual(outcome);
      const values = engine.task('returnsValue', { module: fixture(), exportName: 'returnsValue' });
      const negZero = await engine.enqueue(values, 'negZero').result;
      expect(negZero).toEqual({ kind: 'succeeded', output: 0, attempts: 1 });
    });

    it('compares idempotent inputs in their JSON form', async () => {
      const engine = await openOn(await make());
      const task = engine.task('inspectsInput', { module: fixture(), exportName: 'inspectsInput' });
      const first = engine.enqueue(task, trickyInput(), { idempotencyKey: 'k' });
      const again = engine.enqueue(task, JSON.parse(JSON.stringify(trickyInput())), { idempotencyKey: 'k' });
      expect(again).toBe(first);
      await expect(first.result).resolves.toMatchObject({ kind: 'succeeded', attempts: 1 });
    });

    it('fails an input JSON cannot hold before it runs, naming where', async () => {
      const engine = await openOn(await make());
      const task = engine.task('inspectsInput', { module: fixture(), exportName: 'inspectsInput' });
      const events: EngineEvent[] = [];
      engine.onEvent((event) => events.push(event));
      const jobs = refusedInputs.map(([input]) => engine.enqueue(task, input));
      const outcomes = await Promise.all(jobs.map((job) => job.result));
      expect(outcomes).toEqual(refusedInputs.map(([, where]) => notJson('input', where, 0)));
      expect(jobs.map((job) => job.storeId)).toEqual(jobs.map(() => undefined));
      expect(events.filter((event) => event.type === 'job.started')).toEqual([]);
      expect(events.filter((event) => event.type === 'job.failed')).toHaveLength(refusedInputs.length);
    });

    it('fails an output JSON cannot hold, naming where', async () => {
      const engine = await openOn(await make());
      const task = engine.task('returnsValue', { module: fixture(), exportName: 'returnsValue' });
      const cases = [
        ['bigint', 'output.a is a BigInt'],
        ['map', 'output is a Map'],
        ['set', 'output.list[1] is a Set'],
      ] as const;
      for (const [kind, where] of cases) {
        const job = engine.enqueue(task, kind);
        const outcome = await job.result;
        expect(outcome).toEqual(notJson('output', where, 1));
        if (name !== 'memory') expect(await storedOutcome(engine, job.storeId)).toEqual(outcome);
      }
    });

    it("hands a workflow node its parents' outputs in their JSON form", async () => {
      const engine = await openOn(await make());
      const echo = engine.task('echo', { module: fixture() });
      const result = await engine.runWorkflow({
        nodes: [
          { id: 'a', task: echo, input: { at: new Date(0), gone: undefined } },
          { id: 'b', task: echo, input: -0 },
        ],
        edges: [{ from: 'a', to: 'b' }],
      });
      const a = { input: { at: '1970-01-01T00:00:00.000Z' }, parents: {} };
      expect(result.outputs).toEqual({ a, b: { input: 0, parents: { a } } });
    });
  });
}
