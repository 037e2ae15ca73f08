import Database from 'better-sqlite3';

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
