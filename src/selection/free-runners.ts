/** What the index needs of a runner: its labels, lower-cased, fixed while the runner is in the index. */
export interface Labelled {
  readonly labels: ReadonlySet<string>;
}

/**
 * The runners that have a free slot right now, indexed by label, so that finding one for a job costs
 * a walk over the smallest matching label's runners instead of over every connected runner. With
 * thousands of busy runners connected and none free, a lookup is one size check.
 *
 * Runners are found in the order they became free (a runner that fills up and frees again goes to the
 * back), which spreads jobs across runners. A runner's labels must not change while it is in the
 * index: `delete` it, change them, `add` it again.
 */
export class FreeRunnerIndex<R extends Labelled> {
  private readonly all = new Set<R>();
  private readonly byLabel = new Map<string, Set<R>>();

  get size(): number {
    return this.all.size;
  }

  has(runner: R): boolean {
    return this.all.has(runner);
  }

  /** Idempotent. */
  add(runner: R): void {
    if (this.all.has(runner)) return;
    this.all.add(runner);
    for (const label of runner.labels) {
      const runners = this.byLabel.get(label);
      if (runners) runners.add(runner);
      else this.byLabel.set(label, new Set([runner]));
    }
  }

  /** Idempotent. */
  delete(runner: R): void {
    if (!this.all.delete(runner)) return;
    for (const label of runner.labels) {
      const runners = this.byLabel.get(label);
      runners?.delete(runner);
      if (runners?.size === 0) this.byLabel.delete(label);
    }
  }

  /** The first free runner that has every label in `required` (lower-case) and is not `excluded`. */
  find(required: readonly string[], excluded?: (runner: R) => boolean): R | undefined {
    let candidates: ReadonlySet<R> = this.all;
    for (const label of required) {
      const runners = this.byLabel.get(label);
      if (runners === undefined) return undefined;
      if (runners.size < candidates.size) candidates = runners;
    }
    for (const runner of candidates) {
      if (excluded?.(runner)) continue;
      if (required.every((label) => runner.labels.has(label))) return runner;
    }
    return undefined;
  }
}
