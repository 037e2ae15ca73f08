import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import { fixture, openTestEngine } from './helpers.js';

/** Compile-time checks (tsc over test/): each `@ts-expect-error` fails the type check if nothing is wrong there. */
describe('enqueueMany types', () => {
  it('checks each input against its own task and gives each handle its task output', async () => {
    const { engine } = await openTestEngine();
    const echo = engine.task<{ n: number }, { n: number }>('echo', { module: fixture() });
    const flaky = engine.task<{ succeedOn: number }, number>('flaky', {
      module: fixture(),
      exportName: 'flaky',
    });
    const [a, b, c] = engine.enqueueMany([
      { task: echo, input: { n: 1 } },
      { task: flaky, input: { succeedOn: 1 }, options: { priority: 'high' } },
      { task: 'echo', input: 'anything: a name carries no types' },
    ]);
    const outA: JobOutcome<{ n: number }> = await a.result;
    const outB: JobOutcome<number> = await b.result;
    const outC: JobOutcome<unknown> = await c.result;
    // @ts-expect-error flaky's output is a number
    const wrong: JobOutcome<string> = await b.result;
    expect([outA, outB, outC, wrong].map((outcome) => outcome.kind)).toEqual(Array(4).fill('succeeded'));

    const many = engine.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ task: echo, input: { n: i } })));
    const outputs: ({ n: number } | undefined)[] = (await Promise.all(many.map((job) => job.result))).map(
      (outcome) => (outcome.kind === 'succeeded' ? outcome.output : undefined),
    );
    expect(outputs).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);

    // Checked per request: echo takes { n: number }.
    expect(() =>
      engine.enqueueMany([
        { task: echo, input: { n: 1 } },
        // @ts-expect-error the second request's input is not echo's
        { task: echo, input: 'not a number' },
      ]),
    ).not.toThrow();
    expect(() =>
      // @ts-expect-error an option the library does not have
      engine.enqueueMany([{ task: echo, input: { n: 2 }, options: { attempts: 5 } }]),
    ).toThrow(/enqueueMany\(\)\[0\] options has no option "attempts"/);
    // A task by name carries no types; the caller may give its output's.
    const [named] = engine.enqueueMany<{ n: number }>([{ task: 'echo', input: { n: 3 } }]);
    const outNamed: JobOutcome<{ n: number }> | undefined = await named?.result;
    expect(outNamed).toMatchObject({ kind: 'succeeded', output: { n: 3 } });
  });
});
