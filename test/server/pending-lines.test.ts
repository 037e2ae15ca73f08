import { describe, expect, it } from 'vitest';
import { asJobId, asRunId } from '../../src/core/ids.js';
import { PendingLines } from '../../src/server/pending-lines.js';
import type { LogLine } from '../../src/store/logs.js';

const line = (text: string, stepIndex: number, jobAttempt?: number, attempt?: number): LogLine => ({
  runId: asRunId('1'),
  jobId: asJobId('1.1'),
  stepIndex,
  stream: 'stdout',
  text,
  at: 1,
  ...(jobAttempt === undefined ? {} : { jobAttempt }),
  ...(attempt === undefined ? {} : { attempt }),
});
const texts = (lines: readonly LogLine[]) => lines.map((taken) => taken.text);

describe('PendingLines', () => {
  it("takes a job attempt's own lines stamped with a given time, leaving its others for the attempt's end", () => {
    const pending = new PendingLines();
    const at = (text: string, time: number, jobAttempt?: number) => ({
      ...line(text, -1, jobAttempt),
      at: time,
    });
    pending.add([at('runner', 5), at('later', 9), at('step', 5), at('runner-2', 5, 2)]);
    pending.add([line('in a step', 0)]);
    expect(texts(pending.takeJobLinesAt(1, 5))).toEqual(['runner', 'step']);
    expect(pending.takeJobLinesAt(1, 5)).toEqual([]);
    expect(texts(pending.takeAttempt(1))).toEqual(['later', 'in a step']);
    expect(texts(pending.takeJobLinesAt(2, 5))).toEqual(['runner-2']);
  });

  it("takes one step attempt's lines in order, and only once", () => {
    const pending = new PendingLines();
    pending.add([
      line('a1', 0),
      line('b1', 1),
      line('a2', 0),
      line('a-retry', 0, 1, 2),
      line('a-job2', 0, 2),
    ]);
    pending.add([line('a3', 0)]);
    expect(texts(pending.takeStep(1, 0, 1))).toEqual(['a1', 'a2', 'a3']);
    expect(pending.takeStep(1, 0, 1)).toEqual([]);
    expect(texts(pending.takeStep(1, 0, 2))).toEqual(['a-retry']);
    expect(texts(pending.takeStep(2, 0, 1))).toEqual(['a-job2']);
  });

  it("takes what is left of a job attempt in arrival order across steps, leaving other attempts' lines", () => {
    const pending = new PendingLines();
    pending.add([line('job', -1), line('s2', 2), line('other attempt', 3, 11), line('s0', 0)]);
    pending.add([line('job again', -1), line('s2 again', 2)]);
    expect(texts(pending.takeAttempt(1))).toEqual(['job', 's2', 's0', 'job again', 's2 again']);
    expect(pending.takeAttempt(1)).toEqual([]);
    expect(texts(pending.takeAttempt(11))).toEqual(['other attempt']);
  });

  it("takes a step's lines with the job's own lines that arrived among or before them, in arrival order", () => {
    const pending = new PendingLines();
    pending.add([line('job first', -1), line('a1', 0), line('job between', -1), line('a2', 0)]);
    pending.add([line('job after', -1), line('other attempt', -1, 2)]);
    expect(texts(pending.takeStep(1, 0, 1))).toEqual(['job first', 'a1', 'job between', 'a2']);
    expect(texts(pending.takeAttempt(1))).toEqual(['job after']);
    expect(texts(pending.takeAttempt(2))).toEqual(['other attempt']);
  });

  it("takes the job's own lines ahead of every other pending line of the attempt, up to a place in arrival", () => {
    const pending = new PendingLines();
    pending.add([line('job 1', -1), line('job 2', -1), line('b1', 1), line('job 3', -1)]);
    pending.add([line('other attempt', 0, 2)]);
    const arrived = pending.arrived;
    pending.add([line('job 4', -1)]);
    expect(texts(pending.takeJobLinesAhead(1, 1))).toEqual(['job 1']);
    expect(texts(pending.takeJobLinesAhead(1, arrived))).toEqual(['job 2']);
    expect(texts(pending.takeStep(1, 1, 1))).toEqual(['b1']);
    expect(texts(pending.takeJobLinesAhead(1, arrived))).toEqual(['job 3']);
    expect(texts(pending.takeJobLinesAhead(1, pending.arrived))).toEqual(['job 4']);
    expect(pending.takeAttempt(1)).toEqual([]);
  });

  it('forgets everything on clear', () => {
    const pending = new PendingLines();
    pending.add([line('x', 0)]);
    pending.clear();
    expect(pending.takeAttempt(1)).toEqual([]);
  });

  it("takes an attempt's 200,000 leftover lines at once (a job-started hook's output, say)", () => {
    // Spread as push's arguments, a group this large overflowed the stack, and the stream ended.
    const pending = new PendingLines();
    pending.add(Array.from({ length: 200_000 }, (_, index) => line(String(index), -1)));
    const taken = pending.takeAttempt(1);
    expect(taken).toHaveLength(200_000);
    expect(taken.at(-1)?.text).toBe('199999');
  });
});
