/** A count and its noun, plural but for one: `1 job`, `3 jobs`, `0 jobs`. */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** A timeout as the workflow wrote it: `timeout-minutes: 0.5` as `0.5 minutes`. */
export function timeoutText(timeoutMs: number): string {
  const minutes = Number((timeoutMs / 60_000).toFixed(4));
  return counted(minutes, 'minute');
}

/** Why a job its `timeout-minutes` stopped ended `timed_out`, as its log's line says it. */
export function jobTimeoutReason(timeoutMs: number): string {
  return `the job exceeded its timeout of ${timeoutText(timeoutMs)} (timeout-minutes)`;
}
