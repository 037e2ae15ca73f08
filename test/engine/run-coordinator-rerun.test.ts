import { describe, expect, it } from 'vitest';
import { type Effect, specOf } from '../../src/engine/leg.js';
import { coordinator, stored, summary } from './coordinator-fixtures.js';

const chain = `jobs:
  a:
    runs-on: x
    outputs: { v: "\${{ steps.s.outputs.v }}" }
    steps: [{ id: s, run: a }]
  b: { needs: a, runs-on: x, steps: [{ run: b }] }
  c: { needs: b, runs-on: x, steps: [{ run: c }] }
  d: { needs: a, runs-on: x, steps: [{ run: d }] }
`;

/** plan, then test with one matrix leg per target that plan outputs; `testIf` is test's if: line. */
const planThenTest = (testIf: string) => `jobs:
  plan:
    runs-on: x
    outputs: { targets: "\${{ steps.s.outputs.targets }}" }
    steps: [{ id: s, run: p }]
  test:
    needs: plan
${testIf}    runs-on: x
    strategy: { matrix: { target: "\${{ fromJSON(needs.plan.outputs.targets) }}" } }
    steps: [{ run: t }]
`;

function reopenOf(effects: Effect[], id: string): Extract<Effect, { kind: 'reopen' }> {
  const found = effects.find((effect) => effect.kind === 'reopen' && effect.leg.id === id);
  if (found?.kind !== 'reopen') throw new Error(`no reopen of ${id} in ${summary(effects).join(', ')}`);
  return found;
}

describe('RunCoordinator.rerun', () => {
  it('runs the failed job again as its next attempt, keeps the rest, and replans what needed it', () => {
    const c = coordinator(chain);
    const effects = c.rerun(
      [
        stored(1, 'a', 'succeeded', { outputs: { v: '42' }, startedAt: 10, finishedAt: 20 }),
        stored(2, 'b', 'failed', { startedAt: 30, finishedAt: 40, reason: 'step 1 exited with 1' }),
        stored(3, 'd', 'succeeded', { startedAt: 30, finishedAt: 35 }),
        stored(4, 'c', 'skipped', { finishedAt: 40 }),
      ],
      1_000,
    );
    expect(summary(effects)).toEqual(['reopen 7.2 b', 'queue 7.2 b']);
    expect(reopenOf(effects, '7.2').ended).toEqual({
      attempt: 1,
      status: 'failed',
      startedAt: 30,
      finishedAt: 40,
      reason: 'step 1 exited with 1',
    });
    const b = c.legById('7.2');
    expect(b).toMatchObject({ status: 'queued', attempt: 2 });
    expect([b?.startedAt, b?.finishedAt, b?.reason]).toEqual([undefined, undefined, undefined]);
    // b sees a's stored outputs, as the first time.
    expect(specOf(b)?.contexts.needs).toEqual({ a: { result: 'success', outputs: { v: '42' } } });
    expect(c.legById('7.1')).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(c.legById('7.3')).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(c.isDone()).toBe(false);

    c.started('7.2', 1_100);
    const afterB = c.completed('7.2', 'succeeded', {}, 1_200);
    // c takes its earlier (skipped) record over as attempt 2: no new job id.
    expect(summary(afterB)).toEqual(['reopen 7.4 c', 'queue 7.4 c']);
    expect(reopenOf(afterB, '7.4').ended).toMatchObject({ attempt: 1, status: 'skipped' });
    expect(c.legById('7.4')).toMatchObject({ attempt: 2 });
    c.started('7.4', 1_300);
    c.completed('7.4', 'succeeded', {}, 1_400);
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('succeeded');
  });

  it('reruns only the failed and cancelled legs of a matrix', () => {
    const c = coordinator(`jobs:
  t:
    runs-on: x
    strategy: { matrix: { n: [1, 2, 3] } }
    steps: [{ run: t }]
`);
    const effects = c.rerun(
      [
        stored(1, 't', 'failed', { name: 't (1)', matrix: { n: 1 }, finishedAt: 5 }),
        stored(2, 't', 'cancelled', { name: 't (2)', matrix: { n: 2 }, finishedAt: 5 }),
        stored(3, 't', 'succeeded', { name: 't (3)', matrix: { n: 3 }, finishedAt: 5 }),
      ],
      1_000,
    );
    expect(summary(effects)).toEqual([
      'reopen 7.1 t (1)',
      'reopen 7.2 t (2)',
      'queue 7.1 t (1)',
      'queue 7.2 t (2)',
    ]);
    expect(specOf(c.legById('7.2'))?.contexts.matrix).toEqual({ n: 2 });
    for (const id of ['7.1', '7.2']) {
      c.started(id, 1_100);
      c.completed(id, 'succeeded', {}, 1_200);
    }
    expect(c.status()).toBe('succeeded');
  });

  it("sends the re-run's jobs with the run's attempt, which the runner's lines name them by", () => {
    // `valkyrie runner` prints `running job "b" of run 7 (run attempt 3)` from the spec's attempt.
    const c = coordinator(chain, { runAttempt: 3 });
    c.rerun(
      [
        stored(1, 'a', 'succeeded', { finishedAt: 20 }),
        stored(2, 'b', 'failed', { attempt: 2, finishedAt: 40 }),
        stored(3, 'd', 'succeeded', { finishedAt: 35 }),
        stored(4, 'c', 'skipped', { attempt: 2, finishedAt: 40 }),
      ],
      1_000,
    );
    const b = specOf(c.legById('7.2'));
    expect(b?.attempt).toBe(3);
    expect(b?.contexts.github).toMatchObject({ run_attempt: '3' });
    c.started('7.2', 1_100);
    c.completed('7.2', 'succeeded', {}, 1_200);
    // A job planned again after it, once its needs are done, too.
    expect(specOf(c.legById('7.4'))?.attempt).toBe(3);
  });

  it('expands a job that was skipped before, its legs taking over the earlier record and then new ids', () => {
    const c = coordinator(planThenTest(''));
    const effects = c.rerun([stored(1, 'plan', 'failed'), stored(2, 'test', 'skipped')], 1_000);
    expect(summary(effects)).toEqual(['reopen 7.1 plan', 'queue 7.1 plan']);
    c.started('7.1', 1_100);
    const afterPlan = c.completed('7.1', 'succeeded', { targets: '["a","b"]' }, 1_200);
    expect(summary(afterPlan)).toEqual([
      'reopen 7.2 test (a)',
      'add 7.3 test (b)',
      'queue 7.2 test (a)',
      'queue 7.3 test (b)',
    ]);
    expect(c.legById('7.2')).toMatchObject({ name: 'test (a)', matrix: { target: 'a' }, attempt: 2 });
    expect(c.legById('7.3')).toMatchObject({ attempt: 1 });
  });

  it('ends the earlier records a smaller matrix plans no leg for as skipped', () => {
    const c = coordinator(planThenTest('    if: always()\n'));
    c.rerun(
      [
        stored(1, 'plan', 'failed'),
        stored(2, 'test', 'failed', { name: 'test (a)', matrix: { target: 'a' } }),
        stored(3, 'test', 'succeeded', { name: 'test (b)', matrix: { target: 'b' } }),
      ],
      1_000,
    );
    c.started('7.1', 1_100);
    const afterPlan = c.completed('7.1', 'succeeded', { targets: '["b"]' }, 1_200);
    expect(summary(afterPlan)).toEqual([
      'reopen 7.3 test (b)',
      'queue 7.3 test (b)',
      'reopen 7.2 test (a)',
      'finish 7.2 test (a)',
    ]);
    expect(c.legById('7.2')).toMatchObject({
      status: 'skipped',
      attempt: 2,
      reason: 'not planned on this re-run',
    });
    c.started('7.3', 1_300);
    c.completed('7.3', 'succeeded', {}, 1_400);
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('succeeded');
  });

  it('gives a re-run job its whole retry budget again, counting attempts on from the earlier ones', () => {
    const c = coordinator(`jobs:
  flaky: { runs-on: x, retry: { max-attempts: 2, delay: 0 }, steps: [{ run: a }] }
`);
    c.rerun([stored(1, 'flaky', 'failed', { attempt: 2 })], 1_000);
    expect(c.legById('7.1')).toMatchObject({ status: 'queued', attempt: 3 });
    c.started('7.1', 1_100);
    const failedOnce = c.completed('7.1', 'failed', {}, 1_200, 'exit 1', { kind: 'failed', exitCode: 1 });
    expect(summary(failedOnce)).toEqual(['retry 7.1 flaky']);
    expect(c.legById('7.1')).toMatchObject({ status: 'queued', attempt: 4 });
    c.started('7.1', 1_300);
    const failedTwice = c.completed('7.1', 'failed', {}, 1_400, 'exit 1', { kind: 'failed', exitCode: 1 });
    expect(failedTwice.map((effect) => effect.kind)).not.toContain('retry');
    expect(c.legById('7.1')).toMatchObject({ status: 'failed', attempt: 4 });
    expect(c.status()).toBe('failed');
  });

  it('has nothing to do for a run without failed jobs', () => {
    const c = coordinator(chain);
    const effects = c.rerun(
      [
        stored(1, 'a', 'succeeded'),
        stored(2, 'b', 'succeeded'),
        stored(3, 'd', 'succeeded'),
        stored(4, 'c', 'succeeded'),
      ],
      1_000,
    );
    expect(effects).toEqual([]);
    expect(c.isDone()).toBe(true);
  });

  it('re-runs every job of a succeeded run with scope all, as at its start: if: again, outputs anew', () => {
    const c = coordinator(`jobs:
  a:
    runs-on: x
    outputs: { v: "\${{ steps.s.outputs.v }}" }
    strategy: { matrix: { n: [1, 2] } }
    steps: [{ id: s, run: a }]
  never: { if: false, runs-on: x, steps: [{ run: n }] }
  b: { needs: a, runs-on: x, steps: [{ run: b }] }
`);
    const effects = c.rerun(
      [
        stored(1, 'a', 'succeeded', { name: 'a (1)', outputs: { v: 'old' }, startedAt: 10, finishedAt: 20 }),
        stored(2, 'a', 'succeeded', { name: 'a (2)', outputs: { v: 'old' }, startedAt: 10, finishedAt: 20 }),
        stored(3, 'never', 'skipped', { finishedAt: 10 }),
        stored(4, 'b', 'succeeded', { startedAt: 30, finishedAt: 40 }),
      ],
      1_000,
      'all',
    );
    // Each leg takes its earlier record over as its next attempt (no new ids); `never` is skipped again.
    expect(summary(effects)).toEqual(
      expect.arrayContaining(['reopen 7.1 a (1)', 'queue 7.1 a (1)', 'reopen 7.2 a (2)', 'queue 7.2 a (2)']),
    );
    expect(c.legById('7.3')).toMatchObject({ status: 'skipped', attempt: 2 });
    c.started('7.1', 1_100);
    c.completed('7.1', 'succeeded', { v: 'new' }, 1_200);
    c.started('7.2', 1_100);
    const afterA = c.completed('7.2', 'succeeded', { v: 'new' }, 1_200);
    expect(summary(afterA)).toEqual(['reopen 7.4 b', 'queue 7.4 b']);
    // b sees this attempt's outputs of a, not the stored ones.
    expect(specOf(c.legById('7.4'))?.contexts.needs).toEqual({
      a: { result: 'success', outputs: { v: 'new' } },
    });
    c.started('7.4', 1_300);
    c.completed('7.4', 'succeeded', {}, 1_400);
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('succeeded');
  });
});
