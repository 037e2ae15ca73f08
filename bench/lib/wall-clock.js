/**
 * This process's wall clock in ms, to sub-millisecond precision: performance.now() from the
 * timeOrigin the process fixed from the system clock when it started. Two processes' readings can
 * stand apart (a clock step or slew between their starts), so a time another process reports is
 * compared only after its offset is taken off (fleet/sim-client.js).
 */
export const wallNow = () => performance.timeOrigin + performance.now();
