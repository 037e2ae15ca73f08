import { describe, expect, it } from 'vitest';
import { type Effect, specOf } from '../../src/engine/leg.js';
import type { RunCoordinator } from '../../src/engine/run-coordinator.js';
import { coordinator } from './coordinator-fixtures.js';

const names = (effects: Effect[], kind: Effect['kind']) =>
  effects.filter((effect) => effect.kind === kind).map((effect) => effect.leg.name);

/** Starts and completes a queued leg by name. */
function finish(
  c: RunCoordinator,
  effects: Effect[],
  name: string,
  status: 'succeeded' | 'failed' | 'timed_out',
  outputs = {},
) {
  const leg = effects.find((effect) => effect.kind === 'queue' && effect.leg.name === name)?.leg;
  if (!leg) throw new Error(`${name} was not queued`);
  c.started(leg.id, 1);
  return c.completed(leg.id, status, outputs, 2);
}

describe('RunCoordinator', () => {
  it('queues jobs without needs at once and dependants when their own needs finish', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { runs-on: x, steps: [{ run: b }] }
  c: { needs: a, runs-on: x, steps: [{ run: c }] }
  d: { needs: [b, c], runs-on: x, steps: [{ run: d }] }
`);
    const first = c.advance();
    expect(names(first, 'queue')).toEqual(['a', 'b']);
    const afterA = finish(c, first, 'a', 'succeeded');
    expect(names(afterA, 'queue')).toEqual(['c']);
    const afterC = finish(c, afterA, 'c', 'succeeded');
    expect(names(afterC, 'queue')).toEqual([]);
    const afterB = finish(c, first, 'b', 'succeeded');
    expect(names(afterB, 'queue')).toEqual(['d']);
    finish(c, afterB, 'd', 'succeeded');
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('succeeded');
  });

  it('skips dependants of a failure, runs failure() and always() jobs, and fails the run', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { needs: a, runs-on: x, steps: [{ run: b }] }
  c: { needs: b, runs-on: x, steps: [{ run: c }] }
  on-failure: { needs: c, if: failure(), runs-on: x, steps: [{ run: f }] }
  always: { needs: a, if: always(), runs-on: x, steps: [{ run: g }] }
`);
    const effects = finish(c, c.advance(), 'a', 'failed');
    expect(names(effects, 'finish')).toEqual(['b', 'c']);
    expect(names(effects, 'queue')).toEqual(['on-failure', 'always']);
    expect(c.status()).toBe('failed');
  });

  // GitHub's job timeout cancels the job (actions/runner StepsRunner: the job's cancellation marks it
  // TaskResult.Canceled): its needs.<id>.result is 'cancelled', so failure() jobs after it do not run.
  it("gives a timed-out job's dependants needs.<id>.result 'cancelled', not 'failure'", () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, timeout-minutes: 1, steps: [{ run: a }] }
  on-failure: { needs: a, if: failure(), runs-on: x, steps: [{ run: f }] }
  on-cancelled: { needs: a, if: "always() && needs.a.result == 'cancelled'", runs-on: x, steps: [{ run: g }] }
`);
    const effects = finish(c, c.advance(), 'a', 'timed_out');
    expect(names(effects, 'finish')).toEqual(['on-failure']);
    expect(names(effects, 'queue')).toEqual(['on-cancelled']);
    // The run still fails (exit 1), as before: it was not cancelled by anyone (GitHub calls it cancelled).
    finish(c, effects, 'on-cancelled', 'succeeded');
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('failed');
  });

  it('skips a job whose ancestor was skipped, even when the job between them ran with always()', () => {
    const c = coordinator(`jobs:
  a: { if: "false", runs-on: x, steps: [{ run: a }] }
  b: { needs: a, if: always(), runs-on: x, steps: [{ run: b }] }
  c: { needs: b, name: "C for \${{ github.workflow }}", runs-on: x, steps: [{ run: c }] }
`);
    const first = c.advance();
    expect(names(first, 'finish')).toEqual(['a']);
    expect(names(first, 'queue')).toEqual(['b']);
    const after = finish(c, first, 'b', 'succeeded');
    expect(names(after, 'finish')).toEqual(['C for test']);
    expect(after.find((effect) => effect.kind === 'finish')?.leg.status).toBe('skipped');
  });

  it('expands a matrix from a need’s outputs', () => {
    const c = coordinator(`jobs:
  plan:
    runs-on: x
    outputs: { targets: "\${{ steps.s.outputs.t }}" }
    steps: [{ id: s, run: p }]
  build:
    needs: plan
    runs-on: x
    strategy:
      matrix:
        target: \${{ fromJSON(needs.plan.outputs.targets) }}
    steps: [{ run: b }]
`);
    const effects = finish(c, c.advance(), 'plan', 'succeeded', { targets: '["linux","mac"]' });
    expect(names(effects, 'queue')).toEqual(['build (linux)', 'build (mac)']);
    const leg = effects.find((effect) => effect.kind === 'queue')?.leg;
    expect(specOf(leg)?.contexts.needs).toEqual({
      plan: { result: 'success', outputs: { targets: '["linux","mac"]' } },
    });
  });

  it('fails a job whose matrix expression is not a list, with a clear reason', () => {
    const c = coordinator(`jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        target: \${{ fromJSON('"oops"') }}
    steps: [{ run: b }]
`);
    const effects = c.advance();
    const leg = effects.find((effect) => effect.kind === 'finish')?.leg;
    expect(leg?.status).toBe('failed');
    expect(leg?.reason).toBe(
      'test.yml:6:17: job "build": strategy.matrix: matrix axis "target" must be a list, received "oops"',
    );
  });

  it('fails a job whose computed exclude has an empty entry, which would exclude every leg', () => {
    const c = coordinator(`jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        os: [a, b]
        exclude: \${{ fromJSON('[{}]') }}
        include: [{ os: c }]
    steps: [{ run: b }]
`);
    const effects = c.advance();
    expect(effects.filter((effect) => effect.kind === 'queue')).toEqual([]);
    const leg = effects.find((effect) => effect.kind === 'finish')?.leg;
    expect(leg?.status).toBe('failed');
    expect(leg?.reason).toBe(
      'test.yml:7:18: job "build": strategy.matrix: matrix exclude[0] is an empty mapping: it would exclude every leg (GitHub refuses it too)',
    );
  });

  it('fails a job whose matrix axis is computed empty, naming the axis, the key and where it is', () => {
    const c = coordinator(`jobs:
  plan: { runs-on: x, steps: [{ run: a }] }
  build:
    needs: plan
    runs-on: x
    strategy:
      matrix:
        target: \${{ fromJSON(needs.plan.outputs.targets) }}
    steps: [{ run: b }]
`);
    const effects = finish(c, c.advance(), 'plan', 'succeeded', { targets: '[]' });
    const leg = effects.find((effect) => effect.kind === 'finish')?.leg;
    expect(leg?.status).toBe('failed');
    expect(leg?.reason).toBe(
      'test.yml:8:17: job "build": strategy.matrix: matrix axis "target" has no values (an empty list)',
    );
  });

  it('fails a job whose if:, matrix or runs-on cannot be evaluated, naming the key and where it is as GitHub does', () => {
    const c = coordinator(`jobs:
  gate: { if: "fromJSON('nope')", runs-on: x, steps: [{ run: a }] }
  build:
    runs-on: x
    strategy:
      matrix: \${{ fromJSON('{bad') }}
    steps: [{ run: b }]
  deploy: { runs-on: "\${{ fromJSON('[') }}", steps: [{ run: c }] }
`);
    const reasons = c
      .advance()
      .filter((effect) => effect.kind === 'finish')
      .map((effect) => `${effect.leg.status} ${effect.leg.reason?.replace(/: invalid JSON.*/, '')}`);
    expect(reasons).toEqual([
      'failed test.yml:2:15: job "gate": if: fromJSON',
      'failed test.yml:6:15: job "build": strategy.matrix: fromJSON',
      'failed test.yml:8:22: job "deploy": runs-on: fromJSON',
    ]);
  });

  it('fail-fast cancels the other legs; max-parallel releases legs one by one', () => {
    const c = coordinator(`jobs:
  t:
    runs-on: x
    strategy:
      max-parallel: 2
      matrix: { n: [1, 2, 3, 4] }
    steps: [{ run: t }]
`);
    const first = c.advance();
    expect(names(first, 'queue')).toEqual(['t (1)', 't (2)']);
    const started = first.find((effect) => effect.kind === 'queue' && effect.leg.name === 't (2)')?.leg;
    if (started) c.started(started.id, 1);
    const afterFail = finish(c, first, 't (1)', 'failed');
    expect(names(afterFail, 'cancel')).toEqual(['t (2)']);
    expect(names(afterFail, 'finish')).toEqual(['t (3)', 't (4)']);
  });

  it('fails a leg whose runs-on labels no runner has', () => {
    const c = coordinator(
      `jobs:
  gpu:
    runs-on: \${{ matrix.os }}
    strategy: { matrix: { os: [linux, windows] } }
    steps: [{ run: x }]
`,
      { availableLabels: ['linux'] },
    );
    const effects = c.advance();
    expect(names(effects, 'queue')).toEqual(['gpu (linux)']);
    const failed = effects.find((effect) => effect.kind === 'finish')?.leg;
    expect(failed?.reason).toBe('no runner has the labels "windows"');
  });

  it('cancel: queued legs are cancelled, running ones interrupted, always() jobs still run', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { runs-on: x, steps: [{ run: b }] }
  cleanup: { needs: [a, b], if: always(), runs-on: x, steps: [{ run: c }] }
`);
    const first = c.advance();
    const a = first.find((effect) => effect.kind === 'queue' && effect.leg.name === 'a')?.leg;
    if (a) c.started(a.id, 1);
    const cancel = c.cancel(false);
    expect(names(cancel, 'cancel')).toEqual(['a']);
    expect(names(cancel, 'finish')).toEqual(['b']);
    const after = c.completed(a?.id ?? '', 'cancelled', {}, 3);
    expect(names(after, 'queue')).toEqual(['cleanup']);
    expect(c.status()).toBe('cancelled');
  });

  it('cancel: says why, on the legs it ends and to the runners of the running ones', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { runs-on: x, steps: [{ run: b }] }
`);
    const first = c.advance();
    const a = first.find((effect) => effect.kind === 'queue' && effect.leg.name === 'a')?.leg;
    if (a) c.started(a.id, 1);
    const why = 'the run was interrupted (SIGINT)';
    const reasons = (effects: Effect[]) =>
      effects.map((effect) => [
        effect.kind,
        effect.leg.name,
        effect.kind === 'cancel' ? effect.reason : effect.leg.reason,
      ]);
    expect(reasons(c.cancel(false, why))).toEqual([
      ['cancel', 'a', why],
      ['finish', 'b', why],
    ]);
    // Without one: the run was cancelled.
    const plain = coordinator('jobs:\n  a: { runs-on: x, steps: [{ run: a }] }\n');
    plain.advance();
    expect(plain.cancel(false).map((effect) => effect.leg.reason)).toEqual(['the run was cancelled']);
  });
});
