/** setTimeout fires at once for delays past 2^31-1 ms (~24.8 days); such limits are as good as none. */
export const maxTimerDelayMs = 2_147_483_647;

/** A delay setTimeout honours: longer ones are capped, so a `timeout-minutes: 40000` does not fire at once. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), maxTimerDelayMs);
}
