import type { LeaseRef } from '../queue.js';

/** A write of a batch, with its place in the batch. */
export interface Placed<T> {
  readonly index: number;
  readonly write: T;
}

/**
 * Splits a batch of writes under leases into rounds to run one after the other: round r holds the
 * r-th write naming each job. One UPDATE … FROM a list that names a job twice updates its row once,
 * with either entry, and reports both as done; in rounds, a batch means what its writes would mean
 * made one by one, as on SQLite: the first settles the job and a later one is stale. Nearly every
 * batch names each job once and is one round.
 */
export function occurrenceRounds<T extends { readonly lease: LeaseRef }>(batch: readonly T[]): Placed<T>[][] {
  const seen = new Map<string, number>();
  const rounds: Placed<T>[][] = [];
  for (const [index, write] of batch.entries()) {
    const round = seen.get(write.lease.jobId) ?? 0;
    seen.set(write.lease.jobId, round + 1);
    const members = rounds[round] ?? [];
    if (members.length === 0) rounds[round] = members;
    members.push({ index, write });
  }
  return rounds;
}

/** A write the statement refused: its job id (`seq`) and fencing token, as text. */
export interface RefusedRow {
  readonly seq: string;
  readonly token: string;
}

/**
 * Runs `rounds` one after the other: each round's writes whose job id can name a row go to `send`,
 * which applies them in one statement and returns the rows it refused. Resolves with the indices
 * (in the batch) of the stale writes, those refused and those naming no row, and whether any write
 * was applied.
 */
export async function applyInRounds<T extends { readonly lease: LeaseRef }>(
  rounds: readonly (readonly Placed<T>[])[],
  namesRow: (jobId: string) => boolean,
  send: (writes: T[]) => Promise<readonly RefusedRow[]>,
): Promise<{ readonly stale: Set<number>; readonly applied: boolean }> {
  const stale = new Set<number>();
  let applied = false;
  for (const round of rounds) {
    const valid: T[] = [];
    for (const { index, write } of round) {
      if (namesRow(write.lease.jobId)) valid.push(write);
      else stale.add(index);
    }
    if (valid.length === 0) continue;
    const refused = await send(valid);
    if (refused.length < valid.length) applied = true;
    // The common case, none refused, builds no key per job.
    if (refused.length === 0) continue;
    const keys = new Set(refused.map((row) => `${row.seq}:${row.token}`));
    for (const { index, write } of round) {
      if (keys.has(`${write.lease.jobId}:${write.lease.token}`)) stale.add(index);
    }
  }
  return { stale, applied };
}
