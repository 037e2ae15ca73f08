import { isRecord } from '../core/is-record.js';
import type { RunEvent } from '../engine/events.js';
import { readWaiting } from './waiting-job.js';

type Kind = 'string' | 'number' | 'object';

/** The fields the views read, per event type: what a server's event must have to be rendered. */
const required: Record<RunEvent['type'], Record<string, Kind>> = {
  concurrency: { group: 'string', state: 'string', at: 'number' },
  'run.started': { runId: 'string', runNumber: 'number', workflow: 'string', at: 'number' },
  'job.queued': { jobId: 'string', name: 'string', at: 'number' },
  'job.started': { jobId: 'string', name: 'string', at: 'number' },
  'step.started': { jobId: 'string', job: 'string', index: 'number', step: 'string', at: 'number' },
  log: {
    jobId: 'string',
    job: 'string',
    stepIndex: 'number',
    stream: 'string',
    text: 'string',
    at: 'number',
  },
  'step.completed': { jobId: 'string', job: 'string', step: 'object' },
  'job.completed': { jobId: 'string', name: 'string', status: 'string', durationMs: 'number', at: 'number' },
  'job.retrying': {
    jobId: 'string',
    name: 'string',
    attempt: 'number',
    delayMs: 'number',
    reason: 'string',
    at: 'number',
  },
  'run.completed': { runId: 'string', status: 'string', durationMs: 'number', jobs: 'object' },
};

const stepFields: Record<string, Kind> = { name: 'string', outcome: 'string', conclusion: 'string' };
const jobSummaryFields: Record<string, Kind> = { name: 'string', status: 'string', durationMs: 'number' };

/**
 * Reads one event of a run's event stream. `unknown` for a type this client does not know (a newer
 * server may send more kinds; they are skipped); `invalid` with the reason for a known type that
 * lacks a field the views need.
 */
export function checkRunEvent(
  value: unknown,
): { kind: 'event'; event: RunEvent } | { kind: 'unknown' } | { kind: 'invalid'; reason: string } {
  if (!isRecord(value) || typeof value.type !== 'string') return { kind: 'invalid', reason: 'no "type"' };
  const type = value.type;
  if (!isKnownType(type)) return { kind: 'unknown' };
  const missing = missingField(value, required[type]);
  if (missing) return { kind: 'invalid', reason: `${type} without ${missing}` };
  if (type === 'job.queued') return { kind: 'event', event: withReadableWaiting(value) };
  if (type === 'run.started' && value.attempt !== undefined && !Number.isSafeInteger(value.attempt)) {
    // A heading names the attempt (startedRunHeading): a malformed one is left out, as job.queued's detail.
    const { attempt: _attempt, ...rest } = value;
    return { kind: 'event', event: rest as unknown as RunEvent };
  }
  if (type === 'step.completed') {
    const step = missingField(value.step, stepFields);
    if (step) return { kind: 'invalid', reason: `step.completed without step.${step}` };
  }
  if (type === 'run.completed') {
    if (!Array.isArray(value.jobs))
      return { kind: 'invalid', reason: 'run.completed whose jobs is not a list' };
    for (const job of value.jobs) {
      const field = missingField(job, jobSummaryFields);
      if (field) return { kind: 'invalid', reason: `run.completed with a job without ${field}` };
    }
  }
  // The fields the views read are there, with their types; the rest is the server's to get right.
  return { kind: 'event', event: value as unknown as RunEvent };
}

/**
 * A job.queued event with its optional detail kept only in the shapes the views read: the waiting
 * detail as the run view's (readWaiting), `notBefore` as a time. A server's malformed detail is left
 * out, and the event still shows the job queued.
 */
function withReadableWaiting(event: Record<string, unknown>): RunEvent {
  const {
    noRunnerWith: _labels,
    setAside: _setAside,
    serverClosing: _serverClosing,
    runnersElsewhere: _elsewhere,
    handoff: _handoff,
    ...rest
  } = event;
  const [waiting] = readWaiting(event);
  const { name: _name, ...detail } = waiting ?? { name: '' };
  const { notBefore } = rest;
  if (notBefore !== undefined && typeof notBefore !== 'number') delete rest.notBefore;
  return { ...rest, ...detail } as unknown as RunEvent;
}

function isKnownType(type: string): type is RunEvent['type'] {
  return Object.hasOwn(required, type);
}

function missingField(value: unknown, fields: Record<string, Kind>): string | undefined {
  if (!isRecord(value)) return 'its fields';
  for (const [field, kind] of Object.entries(fields)) {
    const actual = value[field];
    if (kind === 'object' ? actual === null || typeof actual !== 'object' : typeof actual !== kind)
      return `"${field}" (${kind})`;
  }
  return undefined;
}
