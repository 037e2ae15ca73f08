/**
 * The control plane's store writes, started at once and awaited together. Stores apply calls in the
 * order they are made, so a write need not wait for the one before it, and writes made together share
 * a group commit. The first failure is kept: a run is reported done only once every write made before
 * its end has settled, and fails with that error if one failed.
 */
export class StoreWrites {
  private settled: Promise<void> = Promise.resolve();
  private failure: { readonly error: unknown } | undefined;

  write(operation: () => Promise<void>): void {
    const done = operation().catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.settled = this.settled.then(() => done);
  }

  /** Runs `then` once every write made so far has settled, with the first error of any write. */
  afterAll(then: (failure: { readonly error: unknown } | undefined) => void): void {
    void this.settled.then(() => then(this.failure));
  }
}
