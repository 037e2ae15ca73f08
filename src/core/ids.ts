/** Branded identifiers: a RunId cannot be passed where a JobId is expected. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type RunId = Brand<string, 'RunId'>;
export type JobId = Brand<string, 'JobId'>;

export const asRunId = (value: string): RunId => value as RunId;
export const asJobId = (value: string): JobId => value as JobId;

/** Job ids are `<runId>.<ordinal>` so that they sort with their run and read well in logs. */
export function jobIdFor(runId: RunId, ordinal: number): JobId {
  return `${runId}.${ordinal}` as JobId;
}

/** The run a job id (`<runId>.<ordinal>`) names; undefined for text of no such form. */
export function runIdOfJob(jobId: string): RunId | undefined {
  const dot = lastDotOf(jobId);
  return dot > 0 ? asRunId(jobId.slice(0, dot)) : undefined;
}

/**
 * `jobId.lastIndexOf('.')`, by a loop from the end (a job id's ordinal is a few digits): V8 runs
 * lastIndexOf in C++, ~300 instructions a call, and the server looks for the run of ~10 job ids a job
 * (its run feed, the store's run fence).
 */
export function lastDotOf(jobId: string): number {
  let at = jobId.length - 1;
  while (at >= 0 && jobId.charCodeAt(at) !== dot) at--;
  return at;
}

const dot = 0x2e;
