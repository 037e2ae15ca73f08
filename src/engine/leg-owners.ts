import type { ActiveRun } from './active-run.js';

/**
 * The control plane's runs by leg, and each run's legs: a run that ends or is given up lets go of its
 * own legs without walking every active run's, which made a run's end cost as much as all the legs
 * in flight (a backlog of many small runs: quadratic).
 */
export class LegOwners {
  readonly #runOf = new Map<string, ActiveRun>();
  readonly #legsOf = new Map<ActiveRun, Set<string>>();

  get(legId: string): ActiveRun | undefined {
    return this.#runOf.get(legId);
  }

  has(legId: string): boolean {
    return this.#runOf.has(legId);
  }

  set(legId: string, run: ActiveRun): void {
    const before = this.#runOf.get(legId);
    if (before === run) return;
    if (before !== undefined) this.#legsOf.get(before)?.delete(legId);
    this.#runOf.set(legId, run);
    const legs = this.#legsOf.get(run);
    if (legs === undefined) this.#legsOf.set(run, new Set([legId]));
    else legs.add(legId);
  }

  /** Lets go of `run`'s legs, in the order they joined, each after `each` (if given) was called with it. */
  deleteRun(run: ActiveRun, each?: (legId: string) => void): void {
    const legs = this.#legsOf.get(run);
    if (legs === undefined) return;
    this.#legsOf.delete(run);
    for (const legId of legs) {
      each?.(legId);
      this.#runOf.delete(legId);
    }
  }
}
