import Database from 'better-sqlite3';
import { warmUp } from '../lib/warm-up.js';

export function enqueueBatch(from, count) {
  return Array.from({ length: count }, (_, i) => ({ task: 'noop', payload: { i: from + i } }));
}

export function verifySqlite(path) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT count(*) AS n FROM queue_jobs WHERE state = 'succeeded'").get().n;
  } finally {
    db.close();
  }
}

/** Exits when the parent dies or the trial overruns, so a stuck trial never lingers on a shared machine. */
export function exitAfter(ms) {
  setTimeout(() => {
    console.error(`trial did not finish within ${ms} ms`);
    process.exit(2);
  }, ms).unref();
}

/**
 * The trials' rounds of jobs: `round(count)` enqueues `count` jobs in batches of 1,000 through
 * `enqueue` and resolves, with when the last batch was enqueued, once the consumer has handled them
 * all (its handler calls `handled()`). `timed` in `warm` mode repeats rounds of a quarter of the
 * trial's jobs (at most 5,000) for at least a second first, unrecorded, for a trial of a queue in its
 * steady state: the same queue, consumer and process, compiled code and a warm cache.
 */
export function jobRounds(enqueue) {
  let handled = 0;
  let target = 0;
  let reached = () => {};
  const round = async (count) => {
    const from = target;
    target += count;
    const done = new Promise((resolve) => {
      reached = resolve;
    });
    for (let i = 0; i < count; i += 1000) await enqueue(enqueueBatch(from + i, Math.min(1000, count - i)));
    const enqueuedAt = performance.now();
    await done;
    return enqueuedAt;
  };
  return {
    handled() {
      if (++handled === target) reached();
    },
    /**
     * The trial's timed round of `jobs`, after the warm-up rounds when `mode` is `warm`: timed from
     * its first enqueue until `finish` (which flushes what the consumer still holds) has returned.
     * `handled` and `warmedUp` (the jobs of the warm-up rounds) let the caller check the store.
     */
    async timed(jobs, mode, finish) {
      if (mode === 'warm') await warmUp(() => round(Math.min(5000, Math.ceil(jobs / 4))));
      const warmedUp = target;
      const started = performance.now();
      const enqueuedMs = (await round(jobs)) - started;
      await finish();
      return { warmedUp, handled: handled - warmedUp, enqueuedMs, wallMs: performance.now() - started };
    },
  };
}
