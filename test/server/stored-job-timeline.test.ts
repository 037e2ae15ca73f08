import { describe, expect, it } from 'vitest';
import { asJobId, asRunId } from '../../src/core/ids.js';
import type { RunEvent } from '../../src/engine/events.js';
import { StoredJobTimeline } from '../../src/server/stored-job-timeline.js';
import type { LogLine } from '../../src/store/logs.js';
import type { JobRecord, RunRecord, StepRecord } from '../../src/store/runs.js';

const t = 1_700_000_000_000;
const runId = asRunId('1');
const run: RunRecord = {
  id: runId,
  runNumber: 1,
  workflowName: 'w',
  workflowPath: 'w.yml',
  createdAt: t,
  status: 'running',
  startedAt: t,
};
const job = (status: JobRecord['status']): JobRecord => ({
  id: asJobId('1.1'),
  runId,
  key: 'slow',
  name: 'slow',
  matrix: {},
  status,
  outputs: {},
  startedAt: t + 1,
  ...(status === 'running' ? {} : { finishedAt: t + 9 }),
});
const step = (done: boolean): StepRecord => ({
  jobId: asJobId('1.1'),
  index: 0,
  name: 'step',
  startedAt: t + 2,
  ...(done ? { outcome: 'success', conclusion: 'success', finishedAt: t + 8 } : {}),
});
const line = (text: string, stepIndex: number, at = t + 3): LogLine => ({
  runId,
  jobId: asJobId('1.1'),
  stepIndex,
  stream: stepIndex < 0 ? 'system' : 'stdout',
  at,
  text,
});
const runnerLine = line('running on runner vm', -1, t + 1);

/** `log TEXT` for a line, the event's type for the rest. */
const labels = (events: readonly RunEvent[]) =>
  events.map((event) => (event.type === 'log' ? `log ${event.text}` : event.type));

describe('StoredJobTimeline', () => {
  it("tells a job's line stored between two lines of a step between them, before the step's end", () => {
    const timeline = new StoredJobTimeline();
    const lines = [
      runnerLine,
      line('started', 0),
      line('waiting for runner vm to reconnect', -1),
      line('runner vm reconnected', -1),
      line('finished', 0),
    ];
    expect(labels(timeline.advance(job('succeeded'), run, [step(true)], lines))).toEqual([
      'job.started',
      'log running on runner vm',
      'step.started',
      'log started',
      'log waiting for runner vm to reconnect',
      'log runner vm reconnected',
      'log finished',
      'step.completed',
      'job.completed',
    ]);
  });

  it("tells a job's line after a running step's last line once a later read still has the step running", () => {
    const timeline = new StoredJobTimeline();
    const waiting = line('waiting for runner vm to reconnect', -1);
    const first = timeline.advance(
      job('running'),
      run,
      [step(false)],
      [runnerLine, line('started', 0), waiting],
    );
    // Read after this round's steps: the step may have ended before it was written.
    expect(labels(first)).toEqual(['job.started', 'log running on runner vm', 'step.started', 'log started']);
    // This round's steps were read after the line: the step was still running when it was written.
    expect(labels(timeline.advance(job('running'), run, [step(false)], []))).toEqual([
      'log waiting for runner vm to reconnect',
    ]);
    const last = timeline.advance(job('succeeded'), run, [step(true)], [line('finished', 0)]);
    expect(labels(last)).toEqual(['log finished', 'step.completed', 'job.completed']);
  });

  it("tells a job's line after its steps' last line at the end of the attempt when the step is read ended", () => {
    const timeline = new StoredJobTimeline();
    const lines = [runnerLine, line('started', 0), line('cancelling the job', -1)];
    expect(labels(timeline.advance(job('cancelled'), run, [step(true)], lines))).toEqual([
      'job.started',
      'log running on runner vm',
      'step.started',
      'log started',
      'step.completed',
      'log cancelling the job',
      'job.completed',
    ]);
  });
});
