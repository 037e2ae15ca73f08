import { describe, expect, it } from 'vitest';
import { type AttemptedLine, logLinesWithHeadings } from '../../../src/cli/views/attempts.js';

const line = (jobId: string, text: string, jobAttempt = 1, stepIndex = 0, attempt = 1): AttemptedLine => ({
  jobId,
  stepIndex,
  text,
  ...(jobAttempt === 1 ? {} : { jobAttempt }),
  ...(attempt === 1 ? {} : { attempt }),
});

/** What `valkyrie logs` prints: headings and line texts, each job's prefixed when there are several. */
function shown(lines: readonly AttemptedLine[], jobs: { id: string; attempts: number }[]): string[] {
  return logLinesWithHeadings(lines, new Map([['c/1/0', 'Run ./flaky.sh']]), jobs).map(
    (entry) => `${jobs.length > 1 ? `[${entry.jobId}] ` : ''}${entry.heading ?? entry.line?.text}`,
  );
}

describe('logLinesWithHeadings', () => {
  it('heads every attempt of a job that ran more than once, also one that printed nothing', () => {
    expect(shown([line('c', 'c-fails')], [{ id: 'c', attempts: 2 }])).toEqual([
      '── job attempt 1 ──',
      'c-fails',
      '── job attempt 2 ──',
    ]);
    expect(shown([line('c', 'third', 3)], [{ id: 'c', attempts: 3 }])).toEqual([
      '── job attempt 1 ──',
      '── job attempt 2 ──',
      '── job attempt 3 ──',
      'third',
    ]);
    expect(shown([], [{ id: 'c', attempts: 2 }])).toEqual(['── job attempt 1 ──', '── job attempt 2 ──']);
  });

  it('gives a job that ran once no heading, and heads each job of several on its own', () => {
    expect(shown([line('c', 'once')], [{ id: 'c', attempts: 1 }])).toEqual(['once']);
    const lines = [line('a', 'a1'), line('b', 'b1'), line('a', 'a2', 2)];
    expect(
      shown(lines, [
        { id: 'a', attempts: 2 },
        { id: 'b', attempts: 1 },
      ]),
    ).toEqual(['[a] ── job attempt 1 ──', '[a] a1', '[b] b1', '[a] ── job attempt 2 ──', '[a] a2']);
  });

  it("heads a retried step's attempts within its job attempt", () => {
    const lines = [line('c', 'try 1'), line('c', 'try 2', 1, 0, 2)];
    expect(shown(lines, [{ id: 'c', attempts: 1 }])).toEqual([
      '── Run ./flaky.sh: attempt 1 ──',
      'try 1',
      '── Run ./flaky.sh: attempt 2 ──',
      'try 2',
    ]);
  });
});
