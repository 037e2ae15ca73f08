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
