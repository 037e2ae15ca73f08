/**
 * Queue priorities and aging, shared by every queue (the engine's in-memory one and the stores').
 *
 * Aging is expressed as a virtual ready time: a job of level L (0 = critical … 4 = background) that
 * became ready at time T is ordered by `T + L × agingInterval`. A waiting job therefore ranks, after
 * each interval, with jobs one level higher that become ready now — nothing starves — while jobs of
 * one priority stay first in, first out. Being a plain number, the key can be indexed by a database.
 */
export const priorities = ['critical', 'high', 'normal', 'low', 'background'] as const;

export type Priority = (typeof priorities)[number];

export const defaultPriority: Priority = 'normal';

/** How long a job waits before it ranks with the next level up. */
export const defaultAgingIntervalMs = 60_000;

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (priorities as readonly string[]).includes(value);
}

/** 0 for `critical` up to 4 for `background`. */
export function priorityLevel(priority: Priority): number {
  return priorities.indexOf(priority);
}

export interface QueueKeyInput {
  readonly priority: Priority;
  /** When the job became ready (ms since the epoch). */
  readonly readyAt: number;
  /** A delayed job is not ready before this time; its aging starts then. */
  readonly notBefore?: number;
  readonly agingIntervalMs: number;
}

/** The job's place in the queue: smaller goes first; ties are broken by arrival order. */
export function queueKey(input: QueueKeyInput): number {
  const start = Math.max(input.readyAt, input.notBefore ?? input.readyAt);
  return start + priorityLevel(input.priority) * input.agingIntervalMs;
}
