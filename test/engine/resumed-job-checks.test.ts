import { describe, expect, it } from 'vitest';
import type { EndKey, RanJob } from '../../src/engine/attempt-runners.js';
import { type ResumedJobCheckLimits, ResumedJobChecks } from '../../src/engine/resumed-job-checks.js';

const limits = (extra: Partial<ResumedJobCheckLimits>): ResumedJobCheckLimits => ({
  verdicts: 100,
  heldRefusals: 100,
  jobsPerResume: 100,
  lookupTimeoutMs: 60_000,
  endRereads: 2,
  ...extra,
});

/** Jobs the runner ran, none of them ended under its lease. */
const ranJobs = (jobIds: Iterable<string>) =>
  new Map([...jobIds].map((jobId): [string, RanJob] => [jobId, {}]));

/** A store lookup the test answers by hand, counting the jobs it was asked about. */
function manualLookup() {
  const asked: string[][] = [];
  const answers: ((ran: ReadonlySet<string>) => void)[] = [];
  const lookup = (runnerId: string, jobIds: readonly string[]) => {
    asked.push([runnerId, ...jobIds]);
    return new Promise<ReadonlyMap<string, RanJob>>((resolve) =>
      answers.push((ran) => resolve(ranJobs(ran))),
    );
  };
  return { asked, answers, lookup };
}

describe('ResumedJobChecks', () => {
  it('asks the store once per job and runner, and hands held refusals their verdict in order', async () => {
    const { asked, answers, lookup } = manualLookup();
    const ran: string[] = [];
    const checks = new ResumedJobChecks(limits({}), lookup, (jobId, runnerId) =>
      ran.push(`${jobId} ${runnerId}`),
    );
    checks.check('r1', ['1.1', '1.2', '1.1']);
    const delivered: string[] = [];
    for (let i = 0; i < 3; i++)
      checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(`1.1 ${i} ${verdict}`));
    checks.whenKnown('1.2', 'r1', (verdict) => delivered.push(`1.2 ${verdict}`));
    // Another runner's refusal about the same job was never looked up: never held, at once.
    checks.whenKnown('1.1', 'r2', (verdict) => delivered.push(`r2 ${verdict}`));
    expect(delivered).toEqual(['r2 false']);
    // Listed again (another session) while pending: no second lookup.
    checks.check('r1', ['1.1']);
    expect(asked).toEqual([['r1', '1.1', '1.2']]);

    answers[0]?.(new Set(['1.1']));
    await Promise.resolve();
    expect(delivered).toEqual(['r2 false', '1.1 0 true', '1.1 1 true', '1.1 2 true', '1.2 false']);
    expect(ran).toEqual(['1.1 r1']);
    // A flood after the verdict asks nothing more.
    for (let i = 0; i < 1_000; i++) checks.whenKnown('1.2', 'r1', () => {});
    checks.check('r1', ['1.1', '1.2']);
    expect(asked).toHaveLength(1);
  });

  it('holds at most `heldRefusals` refusals in all; the rest count as never held at once', async () => {
    const { answers, lookup } = manualLookup();
    const checks = new ResumedJobChecks(limits({ heldRefusals: 3 }), lookup, () => {});
    checks.check('r1', ['1.1']);
    checks.check('r2', ['1.1']);
    const delivered: string[] = [];
    for (const runner of ['r1', 'r1', 'r2', 'r2'])
      checks.whenKnown('1.1', runner, (verdict) => delivered.push(`${runner} ${verdict}`));
    expect(delivered).toEqual(['r2 false']);
    answers[0]?.(new Set(['1.1']));
    answers[1]?.(new Set(['1.1']));
    await Promise.resolve();
    expect(delivered).toEqual(['r2 false', 'r1 true', 'r1 true', 'r2 true']);
    // The held ones were handed over: room for more.
    checks.check('r3', ['1.1']);
    checks.whenKnown('1.1', 'r3', (verdict) => delivered.push(`r3 ${verdict}`));
    expect(delivered).toHaveLength(4);
  });

  it('counts a failed lookup as never held this time and asks again; keeps only the last `verdicts` verdicts', async () => {
    let lookups = 0;
    let failing = true;
    const checks = new ResumedJobChecks(
      limits({ verdicts: 2 }),
      async (_runnerId, jobIds) => {
        lookups++;
        if (failing) throw new Error('the store is down');
        return ranJobs(jobIds);
      },
      () => {},
    );
    const delivered: boolean[] = [];
    checks.check('r1', ['1.1']);
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toEqual([false]);
    failing = false;
    checks.check('r1', ['1.1']);
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    await new Promise((resolve) => setImmediate(resolve));
    expect([lookups, delivered]).toEqual([2, [false, true]]);
    checks.check('r1', ['1.2']);
    await new Promise((resolve) => setImmediate(resolve));
    checks.check('r1', ['1.3']);
    await new Promise((resolve) => setImmediate(resolve));
    // 1.1's verdict was the oldest of three: forgotten, so a refusal about it is never held with no lookup.
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    expect(delivered).toEqual([false, true, false]);
    expect(lookups).toBe(4);
  });

  it('asks about at most `jobsPerResume` jobs of a resume, one lookup at a time per runner, and keeps pending checks whatever else settles', async () => {
    const { asked, answers, lookup } = manualLookup();
    const checks = new ResumedJobChecks(limits({ verdicts: 2, jobsPerResume: 2 }), lookup, () => {});
    checks.check('r1', ['1.1', '1.2', '1.3']);
    // While r1's lookup is in flight, the jobs it asks about next wait for its next lookup (at most
    // jobsPerResume of them); r2's lookup is its own.
    checks.check('r1', ['2.1']);
    checks.check('r1', ['2.2', '2.3']);
    checks.check('r2', ['3.1', '3.2']);
    expect(asked).toEqual([
      ['r1', '1.1', '1.2'],
      ['r2', '3.1', '3.2'],
    ]);
    const delivered: string[] = [];
    for (const jobId of ['1.1', '1.3', '2.1', '2.3'])
      checks.whenKnown(jobId, 'r1', (verdict) => delivered.push(`${jobId} ${verdict}`));
    expect(delivered).toEqual(['1.3 false', '2.3 false']);
    // r2's verdicts settle first and fill the kept verdicts; r1's pending check is still there.
    answers[1]?.(new Set(['3.1', '3.2']));
    await Promise.resolve();
    answers[0]?.(new Set(['1.1']));
    await Promise.resolve();
    expect(delivered).toEqual(['1.3 false', '2.3 false', '1.1 true']);
    // Then r1's next lookup, of the jobs asked about while the first ran: their refusals waited for it.
    expect(asked[2]).toEqual(['r1', '2.1', '2.2']);
    answers[2]?.(new Set(['2.1']));
    await Promise.resolve();
    expect(delivered).toEqual(['1.3 false', '2.3 false', '1.1 true', '2.1 true']);
  });

  it('counts the jobs of a lookup that takes longer than `lookupTimeoutMs` as never held, and asks again later', async () => {
    const { asked, lookup } = manualLookup();
    const checks = new ResumedJobChecks(limits({ lookupTimeoutMs: 20 }), lookup, () => {});
    checks.check('r1', ['1.1']);
    const delivered: boolean[] = [];
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(delivered).toEqual([false]);
    checks.check('r1', ['1.1']);
    expect(asked).toHaveLength(2);
  });
  it('asks again for an end under a token the verdict knows none of, at most `endRereads` times, keeping the verdict when that fails', async () => {
    const end = (key: string) => ({ key, outputs: true });
    const answers: (ReadonlyMap<number, EndKey> | Error)[] = [
      new Map([[1, end('one')]]),
      new Map([
        [1, end('one')],
        [2, end('two')],
      ]),
      new Error('the store is down'),
    ];
    let lookups = 0;
    const checks = new ResumedJobChecks(
      limits({ endRereads: 2 }),
      async (_runnerId, jobIds) => {
        lookups++;
        if (jobIds.includes('9.9')) return new Map<string, RanJob>();
        const answer = answers.shift() ?? new Map();
        if (answer instanceof Error) throw answer;
        return new Map(jobIds.map((jobId): [string, RanJob] => [jobId, { ends: answer }]));
      },
      () => {},
    );
    const delivered: string[] = [];
    const judge = (token: number) => {
      checks.checkEnd('r1', '1.1', token);
      checks.whenKnown('1.1', 'r1', (ran, ends) =>
        delivered.push(`${token} ${ran} ${ends?.get(token)?.key}`),
      );
    };
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    // No verdict yet, or one that the runner never ran the job: checkEnd asks nothing (check does).
    checks.checkEnd('r1', '1.1', 1);
    checks.check('r1', ['9.9']);
    await tick();
    checks.checkEnd('r1', '9.9', 1);
    expect(lookups).toBe(1);
    checks.check('r1', ['1.1']);
    judge(1);
    await tick();
    // An end the verdict holds: no read. One it does not: the store is asked again, and the answer waited for.
    judge(1);
    judge(2);
    await tick();
    expect([lookups, delivered]).toEqual([3, ['1 true one', '1 true one', '2 true two']]);
    // The next read fails: the verdict stays as it was. Then no more reads (endRereads: 2).
    judge(3);
    await tick();
    judge(4);
    judge(5);
    await tick();
    expect(lookups).toBe(4);
    expect(delivered.slice(3)).toEqual(['3 true undefined', '4 true undefined', '5 true undefined']);
  });
});
