import { describe, expect, it } from 'vitest';
import { specOf } from '../../src/engine/leg.js';
import { coordinator, stored, summary } from './coordinator-fixtures.js';

const chain = (policy: string) => `jobs:
  a:
    runs-on: x
    outputs: { v: "\${{ steps.s.outputs.v }}" }
    steps: [{ id: s, run: a }]
  b: { needs: a, runs-on: x, on-runner-lost: ${policy}, steps: [{ run: b }] }
  c: { needs: b, runs-on: x, steps: [{ run: c }] }
`;

describe('RunCoordinator.restore', () => {
  it('keeps finished jobs, runs the interrupted one again as a new attempt, then continues', () => {
    const c = coordinator(chain('requeue'));
    const effects = c.restore(
      [
        stored(1, 'a', 'succeeded', { outputs: { v: '42' }, startedAt: 10, finishedAt: 20 }),
        stored(2, 'b', 'running', { startedAt: 30 }),
      ],
      1_000,
    );
    expect(summary(effects)).toEqual(['retry 7.2 b']);
    const retry = effects[0];
    if (retry?.kind !== 'retry') throw new Error('expected a retry');
    expect(retry.ended).toEqual({
      attempt: 1,
      status: 'runner_lost',
      startedAt: 30,
      finishedAt: 1_000,
      reason: expect.stringMatching(/^runner_lost/),
    });
    expect(retry.delayMs).toBe(0);
    expect(retry.leg).toMatchObject({ status: 'queued', attempt: 2, startedAt: undefined });
    // b's spec sees a's stored outputs, as it did the first time.
    expect(specOf(retry.leg)?.contexts.needs).toEqual({ a: { result: 'success', outputs: { v: '42' } } });
    expect(c.legById('7.1')).toMatchObject({ status: 'succeeded', attempt: 1 });

    c.started('7.2', 1_100);
    const afterB = c.completed('7.2', 'succeeded', {}, 1_200);
    // c is new: its id continues after the stored ones.
    expect(summary(afterB)).toEqual(['add 7.3 c', 'queue 7.3 c']);
    c.started('7.3', 1_300);
    c.completed('7.3', 'succeeded', {}, 1_400);
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('succeeded');
  });

  it('fails an interrupted job with on-runner-lost: fail, and skips what needs it', () => {
    const c = coordinator(chain('fail'));
    const effects = c.restore(
      [stored(1, 'a', 'succeeded'), stored(2, 'b', 'running', { startedAt: 30 })],
      1_000,
    );
    expect(summary(effects)).toEqual(['finish 7.2 b', 'add 7.3 c', 'finish 7.3 c']);
    expect(c.legById('7.2')).toMatchObject({
      status: 'failed',
      finishedAt: 1_000,
      reason: expect.stringMatching(/^runner_lost/),
    });
    expect(c.legById('7.3')?.status).toBe('skipped');
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('failed');
  });

  it('with on-runner-lost: fail, gives an interrupted job its next attempt while retry.when covers runner-lost', () => {
    const retried = chain('fail').replace(
      'on-runner-lost: fail,',
      'on-runner-lost: fail, retry: { max-attempts: 2, delay: 2s, when: [runner-lost] },',
    );
    const c = coordinator(retried);
    const effects = c.restore(
      [stored(1, 'a', 'succeeded'), stored(2, 'b', 'running', { startedAt: 30 })],
      1_000,
    );
    expect(summary(effects)).toEqual(['retry 7.2 b']);
    const retry = effects[0];
    if (retry?.kind !== 'retry') throw new Error('expected a retry');
    expect(retry.ended).toEqual({
      attempt: 1,
      status: 'failed',
      startedAt: 30,
      finishedAt: 1_000,
      reason: expect.stringMatching(/^runner_lost/),
    });
    expect(retry.reason).toMatch(/^runner_lost/);
    expect(retry.delayMs).toBe(2_000);
    expect(retry.leg).toMatchObject({ status: 'queued', attempt: 2, notBefore: 3_000, startedAt: undefined });
    c.started('7.2', 3_100);
    expect(summary(c.completed('7.2', 'succeeded', {}, 3_200))).toEqual(['add 7.3 c', 'queue 7.3 c']);

    // The second attempt was the last: interrupted in turn, it fails and what needs it is skipped.
    const spent = coordinator(retried);
    const final = spent.restore(
      [stored(1, 'a', 'succeeded'), stored(2, 'b', 'running', { attempt: 2, startedAt: 30 })],
      1_000,
    );
    expect(summary(final)).toEqual(['finish 7.2 b', 'add 7.3 c', 'finish 7.3 c']);
    expect(spent.legById('7.2')).toMatchObject({ status: 'failed', attempt: 2, finishedAt: 1_000 });
    expect(spent.status()).toBe('failed');
  });

  it('with on-runner-lost: requeue, the new attempt of an interrupted job uses up no retry, as a lost lease does', () => {
    const c = coordinator(
      chain('requeue').replace(
        'on-runner-lost: requeue,',
        'on-runner-lost: requeue, retry: { max-attempts: 2, delay: 1s },',
      ),
    );
    const effects = c.restore(
      [stored(1, 'a', 'succeeded'), stored(2, 'b', 'running', { startedAt: 30 })],
      1_000,
    );
    const requeued = effects[0];
    if (requeued?.kind !== 'retry') throw new Error('expected a retry');
    // Not the retry policy's: no delay, whatever retry.when says.
    expect(requeued.delayMs).toBe(0);
    expect(requeued.leg).toMatchObject({ status: 'queued', attempt: 2 });
    expect(requeued.line).toBe(
      'attempt 1 ended (runner_lost: the process running the run stopped); requeued as attempt 2',
    );
    c.started('7.2', 1_100);
    // The job's one retry is still there for a failure of the requeued attempt, which its line counts.
    const failed = c.completed('7.2', 'failed', {}, 1_200);
    expect(summary(failed)).toEqual(['retry 7.2 b']);
    expect(failed[0]?.kind === 'retry' && failed[0].line).toBe(
      'attempt 2 (try 1 of 2) failed (failure); retrying in 1s',
    );
    expect(c.legById('7.2')).toMatchObject({ status: 'queued', attempt: 3, notBefore: 2_200 });
    c.started('7.2', 2_300);
    // The retry spent, the second failure is final: c is skipped.
    expect(summary(c.completed('7.2', 'failed', {}, 2_400))).toEqual(['add 7.3 c', 'finish 7.3 c']);
    expect(c.legById('7.2')).toMatchObject({ status: 'failed', attempt: 3 });
  });

  it('ends a lost attempt when its process was last known alive (lostAt), not at the restore', () => {
    const running = (startedAt: number) => [
      stored(1, 'a', 'succeeded'),
      stored(2, 'b', 'running', { startedAt }),
    ];
    const requeued = coordinator(chain('requeue')).restore(running(30), 9_000, {
      lostAt: new Map([['7.2', 700]]),
    });
    const retry = requeued[0];
    if (retry?.kind !== 'retry') throw new Error('expected a retry');
    expect(retry.ended).toMatchObject({ startedAt: 30, finishedAt: 700 });

    const failed = coordinator(chain('fail'));
    failed.restore(running(30), 9_000, { lostAt: new Map([['7.2', 700]]) });
    expect(failed.legById('7.2')).toMatchObject({ status: 'failed', finishedAt: 700 });

    // A retry's delay still counts from the restore: the job did not wait while nothing ran.
    const retried = coordinator(
      chain('fail').replace(
        'on-runner-lost: fail,',
        'on-runner-lost: fail, retry: { max-attempts: 2, delay: 2s, when: [runner-lost] },',
      ),
    );
    const next = retried.restore(running(30), 9_000, { lostAt: new Map([['7.2', 700]]) })[0];
    if (next?.kind !== 'retry') throw new Error('expected a retry');
    expect(next.ended).toMatchObject({ finishedAt: 700 });
    expect(next.leg).toMatchObject({ notBefore: 11_000 });

    // The last heartbeat came before the attempt started: it ended no earlier than it started.
    const late = coordinator(chain('requeue')).restore(running(800), 9_000, {
      lostAt: new Map([['7.2', 700]]),
    })[0];
    expect(late?.kind === 'retry' && late.ended.finishedAt).toBe(800);
  });

  it('queues a job that was queued or offered again without a new attempt', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { runs-on: x, steps: [{ run: b }] }
`);
    const effects = c.restore([stored(1, 'a', 'queued'), stored(2, 'b', 'offered')], 1_000);
    expect(summary(effects)).toEqual(['queue 7.1 a', 'queue 7.2 b']);
    expect(c.legById('7.2')).toMatchObject({ status: 'queued', attempt: 1 });
  });

  it("keeps a queued retry's delay, and its run's not-before when that is later", () => {
    const c = coordinator(
      `jobs:
  a: { runs-on: x, retry: { max-attempts: 3, delay: 5s }, steps: [{ run: a }] }
  b: { runs-on: x, not-before: 10s, steps: [{ run: b }] }
`,
      { startedAt: 0 },
    );
    const effects = c.restore(
      [
        stored(1, 'a', 'queued', { attempt: 2, notBefore: 6_000 }),
        stored(2, 'b', 'queued', { notBefore: 3_000 }),
      ],
      1_000,
    );
    expect(summary(effects)).toEqual(['queue 7.1 a', 'queue 7.2 b']);
    expect(c.legById('7.1')).toMatchObject({ attempt: 2, notBefore: 6_000 });
    expect(c.legById('7.2')).toMatchObject({ notBefore: 10_000 });
  });

  it('keeps expanded matrix legs: finished ones stay, pending ones are released within max-parallel', () => {
    const c = coordinator(`jobs:
  t:
    runs-on: x
    strategy: { max-parallel: 1, matrix: { n: [1, 2, 3] } }
    steps: [{ run: t }]
`);
    const effects = c.restore(
      [
        stored(1, 't', 'succeeded', { name: 't (1)', matrix: { n: 1 } }),
        stored(2, 't', 'running', { name: 't (2)', matrix: { n: 2 }, startedAt: 5 }),
        stored(3, 't', 'pending', { name: 't (3)', matrix: { n: 3 } }),
      ],
      1_000,
    );
    // The retried leg holds the one slot, so leg 3 waits as before.
    expect(summary(effects)).toEqual(['retry 7.2 t (2)']);
    expect(specOf(c.legById('7.2'))?.contexts.matrix).toEqual({ n: 2 });
    c.started('7.2', 1_100);
    expect(summary(c.completed('7.2', 'succeeded', {}, 1_200))).toEqual(['queue 7.3 t (3)']);
  });

  // GitHub's leg names may repeat (values past its 100-character cut, an empty string and null):
  // each record takes the leg planned in its own place, not the first of that name.
  it('gives legs of the same name each its own plan', () => {
    const long = 'x'.repeat(100);
    const c = coordinator(`jobs:
  t:
    runs-on: x
    strategy: { matrix: { v: ["${long}a", "${long}b"] } }
    steps: [{ run: t }]
`);
    const name = `t (${long.slice(0, 94)}...`;
    const effects = c.restore(
      [
        stored(1, 't', 'running', { name, matrix: { v: `${long}a` }, startedAt: 5 }),
        stored(2, 't', 'running', { name, matrix: { v: `${long}b` }, startedAt: 5 }),
      ],
      1_000,
    );
    expect(summary(effects)).toEqual([`retry 7.1 ${name}`, `retry 7.2 ${name}`]);
    expect(specOf(c.legById('7.1'))?.contexts.matrix).toEqual({ v: `${long}a` });
    expect(specOf(c.legById('7.2'))?.contexts.matrix).toEqual({ v: `${long}b` });
  });

  it('finishes a run whose jobs had all finished', () => {
    const c = coordinator(chain('requeue'));
    const effects = c.restore(
      [stored(1, 'a', 'succeeded'), stored(2, 'b', 'failed'), stored(3, 'c', 'skipped')],
      1_000,
    );
    expect(effects).toEqual([]);
    expect(c.isDone()).toBe(true);
    expect(c.status()).toBe('failed');
  });
});
