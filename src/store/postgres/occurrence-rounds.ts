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
