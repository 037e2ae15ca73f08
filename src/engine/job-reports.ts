import type { RunId } from '../core/ids.js';
import type { Stores } from '../store/store.js';
import type { LeaseMessage } from './dispatcher.js';
import { attemptField, jobAttemptField, type RunEvent } from './events.js';
import type { Leg } from './leg.js';

/** What a runner reports about a running job's steps and output, under its current lease. */
export type JobReport = Extract<LeaseMessage, { readonly type: 'step.started' | 'log' | 'step.completed' }>;

/**
 * Stores a job report under the leg's current attempt and announces it. No decision depends on one:
 * the job's end (`job.completed`) is the control plane's to handle. A `log` with `first` stores each
 * line with its runner index (LogLine.lineIndex), and `stored` is called once its append committed.
 */
export function recordJobReport(
  report: JobReport,
  runId: RunId,
  leg: Leg,
  stores: Stores,
  write: (operation: () => Promise<void>) => void,
  emit: (event: RunEvent) => void,
  stored?: () => void,
): void {
  const { id: jobId, name: job, attempt: jobAttempt } = leg;
  const ofAttempt = jobAttemptField(jobAttempt);
  switch (report.type) {
    case 'step.started': {
      const { index, name, at } = report;
      const stepAttempt = attemptField(report.attempt);
      emit({ type: 'step.started', jobId, job, index, step: name, at, ...ofAttempt, ...stepAttempt });
      const attempt = report.attempt ?? 1;
      write(() => stores.runs.recordStep({ jobId, jobAttempt, index, attempt, name, startedAt: at }));
      break;
    }
    case 'log': {
      const { first } = report;
      const lines =
        first === undefined
          ? report.entries.map((entry) => ({ runId, jobId, jobAttempt, ...entry }))
          : report.entries.map((entry, i) => ({ runId, jobId, jobAttempt, ...entry, lineIndex: first + i }));
      // Appended before told (the store applies calls in order): a feed that reads a told line back
      // from the store finds it. Told as the store reads it back, so that a replay shows the same event.
      write(
        stored === undefined ? () => stores.logs.append(lines) : () => stores.logs.append(lines).then(stored),
      );
      for (const { stepIndex, stream, text, at, attempt } of report.entries)
        emit({
          type: 'log',
          jobId,
          job,
          stepIndex,
          stream,
          text,
          at,
          ...ofAttempt,
          ...attemptField(attempt),
        });
      break;
    }
    case 'step.completed':
      emit({ type: 'step.completed', jobId, job, step: report.step, ...ofAttempt });
      write(() => stores.runs.recordStep({ jobId, jobAttempt, ...report.step }));
      break;
  }
}
