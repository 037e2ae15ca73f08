import type { ClaimRequest, Lease } from '../queue.js';

/** A claimOrWait call of this process that found nothing and waits; an enqueue may hand it jobs. */
export class LocalWaiter {
  /** An enqueue has leased jobs to it in a write not settled yet: only `settle` ends its wait now. */
  taken = false;

  constructor(
    readonly request: ClaimRequest,
    readonly settle: (leases: Lease[]) => void,
  ) {}
}

/**
 * The claimOrWait calls of one SQLite store's process that wait for work, oldest first. An enqueue
 * requested while one waits leases its jobs to the oldest in its own write when a claim right after
 * it would take exactly them (SqliteQueueStore's lease on insert), and the waiter starts them as that
 * write commits: no wake-up, no claim of its own. Other processes on the file are not reached here;
 * their workers find the jobs by their poll, as before.
 */
export class LocalWaiters {
  readonly #waiting = new Set<LocalWaiter>();

  /** The longest waiting, not taken. */
  oldest(): LocalWaiter | undefined {
    for (const waiter of this.#waiting) return waiter;
    return undefined;
  }

  /**
   * Waits until `woken` resolves (a wake-up, or the time the earliest job becomes ready) or `signal`
   * aborts, resolving [] — unless an enqueue takes the waiter first, which settles it with its leases.
   * `end` releases `woken`'s timer and registration once the wait is over.
   */
  wait(
    request: ClaimRequest,
    signal: AbortSignal,
    { woken, end }: { readonly woken: Promise<void>; readonly end: () => void },
  ): Promise<Lease[]> {
    return new Promise<Lease[]>((resolve, reject) => {
      const stop = () => {
        this.#waiting.delete(waiter);
        end();
        signal.removeEventListener('abort', giveUp);
      };
      const waiter = new LocalWaiter(request, (leases) => {
        stop();
        resolve(leases);
      });
      // A taken waiter's leases may already be written: it waits for them, abort or not.
      const giveUp = () => {
        if (!waiter.taken) waiter.settle([]);
      };
      if (signal.aborted) {
        end();
        resolve([]);
        return;
      }
      signal.addEventListener('abort', giveUp, { once: true });
      this.#waiting.add(waiter);
      woken.then(giveUp, (error: unknown) => {
        if (waiter.taken) return;
        stop();
        reject(error);
      });
    });
  }

  /** Marks the waiter as being handed jobs by a write; its `settle` must follow once that write settles. */
  take(waiter: LocalWaiter): void {
    waiter.taken = true;
    this.#waiting.delete(waiter);
  }
}
