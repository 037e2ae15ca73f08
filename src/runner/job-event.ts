import type { JobOutcome } from '../core/outcome.js';
import type { JobSpec } from '../protocol/job-spec.js';

/** A leased job's start or end on a runner (RunnerAgentOptions.onJob); `ms`: from its lease to its end. */
export type JobEvent =
  | { readonly kind: 'started'; readonly job: JobSpec }
  | { readonly kind: 'ended'; readonly job: JobSpec; readonly outcome: JobOutcome; readonly ms: number };
