import { jobJson } from '../protocol/message-json.js';
import type { Leg, MadeSpec } from './leg.js';

/** The `lease` message a runner gets for a job it accepted, under the lease just granted. */
export function leaseMessage(
  leg: Leg,
  spec: MadeSpec,
  lease: { readonly fencingToken: number; readonly ttlMs: number },
  jobToken: string | undefined,
) {
  return {
    type: 'lease' as const,
    jobId: leg.id,
    fencingToken: lease.fencingToken,
    ttlMs: lease.ttlMs,
    job: spec.value,
    ...(jobToken === undefined ? {} : { jobToken }),
    [jobJson]: spec.json, // when the job's template builds it: the encoder splices it in
  };
}
