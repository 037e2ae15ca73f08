import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { ConcurrencyStore } from '../store/concurrency.js';
import { resolveConcurrency } from '../workflow/concurrency.js';
import type { ConcurrencyDefinition } from '../workflow/model.js';
import { defaultGateTiming, enterConcurrencyGroup, type GroupHold } from './concurrency-gate.js';
import type { Leg } from './leg.js';

/** What the control plane does when a job's group decides. */
export interface JobGroupHooks {
  /** Waiting for the group (once, before the first poll). */
  waiting(leg: Leg, group: string): void;
  /** The slot is the job's: queue it for a runner. */
  admitted(leg: Leg): void;
  /** A newer job of the group replaced this one while it waited, or asked it to cancel while it ran. */
  cancelled(leg: Leg, reason: string): void;
}

interface Entry {
  readonly abort: AbortController;
  hold?: GroupHold;
  released: boolean;
}

/**
 * Job-level `concurrency:`: a job with a group waits for the group's slot between being planned and
 * being queued, and keeps it until its final attempt ends (retries keep the slot). Membership lives in
 * the same ConcurrencyStore as workflow-level groups, so it holds across processes too.
 * Lifecycle per leg: `enter` once when it would be queued → hooks → `release` when it is final
 * (idempotent; aborts a wait still in progress).
 */
export class JobGroups {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly store: ConcurrencyStore,
    private readonly clock: Clock,
    private readonly hooks: JobGroupHooks,
  ) {}

  /** False when the leg has no group (queue it now); true when the hooks will say what to do. */
  enter(leg: Leg, definition: ConcurrencyDefinition | undefined): boolean {
    const contexts = leg.spec?.contexts;
    if (definition === undefined || contexts === undefined) return false;
    let resolved: ReturnType<typeof resolveConcurrency>;
    try {
      resolved = resolveConcurrency(definition, { contexts });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      queueMicrotask(() =>
        this.hooks.cancelled(leg, `its concurrency group could not be evaluated: ${message}`),
      );
      return true;
    }
    const { group, cancelInProgress, queue } = resolved;
    const entry: Entry = { abort: new AbortController(), released: false };
    this.#entries.set(leg.id, entry);
    let toldWaiting = false;
    void enterConcurrencyGroup(
      this.store,
      { group, memberId: `${leg.id}:${randomUUID()}`, cancelInProgress, queue },
      {
        clock: this.clock,
        ...defaultGateTiming,
        signal: entry.abort.signal,
        onWaiting: () => {
          if (!toldWaiting) this.hooks.waiting(leg, group);
          toldWaiting = true;
        },
      },
    ).then(
      (outcome) => {
        switch (outcome.kind) {
          case 'admitted':
            entry.hold = outcome.hold;
            if (entry.released) {
              void outcome.hold.release().catch(() => {});
              return;
            }
            outcome.hold.onAlert(() =>
              this.hooks.cancelled(leg, `a newer job of concurrency group ${group} cancelled it`),
            );
            this.hooks.admitted(leg);
            return;
          case 'replaced':
          case 'dropped':
            if (!entry.released)
              this.hooks.cancelled(leg, `replaced by a newer job of concurrency group ${group}`);
            return;
          case 'aborted':
            return;
        }
      },
      () => {
        if (!entry.released) this.hooks.cancelled(leg, `concurrency group ${group} could not be joined`);
      },
    );
    return true;
  }

  release(legId: string): Promise<void> {
    const entry = this.#entries.get(legId);
    if (entry === undefined || entry.released) return Promise.resolve();
    entry.released = true;
    this.#entries.delete(legId);
    entry.abort.abort();
    return entry.hold?.release() ?? Promise.resolve();
  }
}
