import { describe, expect, it } from 'vitest';
import { ResumedJobChecks } from '../../src/engine/resumed-job-checks.js';

/** A store lookup the test answers by hand, counting the jobs it was asked about. */
function manualLookup() {
  const asked: string[][] = [];
  const answers: ((ran: ReadonlySet<string>) => void)[] = [];
  const lookup = (runnerId: string, jobIds: readonly string[]) => {
    asked.push([runnerId, ...jobIds]);
    return new Promise<ReadonlySet<string>>((resolve) => answers.push(resolve));
  };
  return { asked, answers, lookup };
}

describe('ResumedJobChecks', () => {
  it('asks the store once per job and runner, and hands held refusals their verdict in order', async () => {
    const { asked, answers, lookup } = manualLookup();
    const ran: string[] = [];
    const checks = new ResumedJobChecks({ verdicts: 100, heldRefusals: 100 }, lookup, (jobId, runnerId) =>
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
    const checks = new ResumedJobChecks({ verdicts: 100, heldRefusals: 3 }, lookup, () => {});
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

  it('counts a failed lookup as never held, and keeps only the last `verdicts` verdicts', async () => {
    let lookups = 0;
    const checks = new ResumedJobChecks(
      { verdicts: 2, heldRefusals: 10 },
      async () => {
        lookups++;
        throw new Error('the store is down');
      },
      () => {},
    );
    const delivered: boolean[] = [];
    checks.check('r1', ['1.1']);
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toEqual([false]);
    checks.check('r1', ['1.2', '1.3']);
    // 1.1's verdict was the oldest of three: forgotten, so a refusal about it is never held with no lookup.
    checks.whenKnown('1.1', 'r1', (verdict) => delivered.push(verdict));
    expect(delivered).toEqual([false, false]);
    checks.check('r1', ['1.1']);
    expect(lookups).toBe(3);
  });
});
