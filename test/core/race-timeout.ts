/**
 * Races a promise against real time. The timer is cleared as soon as either side settles: a test
 * file's pending timers would otherwise run on in the worker that runs the next files (vitest shares
 * it between files), up to the limit and after the test.
 */

/** `promise`'s outcome, or `late` once `ms` of real time have passed without one. */
export function orAfter<T, L>(promise: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const lateBy = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  return Promise.race([promise, lateBy]).finally(() => clearTimeout(timer));
}

/** `promise`'s outcome; rejects, naming `what`, once `ms` have passed without one. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
