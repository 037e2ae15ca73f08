type Failure = { readonly error: unknown } | undefined;

/** The writes made between two afterAll calls, how many have not settled, and who waits for them. */
interface Batch {
  unsettled: number;
  waiter?: (failure: Failure) => void;
  readonly settled: () => void;
  readonly failed: (error: unknown) => void;
}

/**
 * The control plane's store writes, started at once and awaited together. Stores apply calls in the
 * order they are made, so a write need not wait for the one before it, and writes made together share
 * a group commit. The first failure is kept: a run is reported done only once every write made before
 * its end has settled, and fails with that error if one failed.
 *
 * Writes are counted, not chained: a run writes each job's row three times, and a promise chained
 * onto the last for every write made three more promises per write for the collector.
 */
export class StoreWrites {
  private failure: Failure;
  /** Oldest first; the last takes new writes, the others wait for theirs to settle. */
  private readonly batches: Batch[] = [this.newBatch()];

  write(operation: () => Promise<unknown>): void {
    const batch = this.batches[this.batches.length - 1] ?? this.newBatch();
    batch.unsettled++;
    operation().then(batch.settled, batch.failed);
  }

  /** Runs `then` once every write made so far has settled, with the first error of any write. */
  afterAll(then: (failure: Failure) => void): void {
    const batch = this.batches[this.batches.length - 1];
    if (batch === undefined) return;
    batch.waiter = then;
    this.batches.push(this.newBatch());
    // Never from inside this call, even when nothing is pending: callers carry on after it.
    queueMicrotask(() => this.release());
  }

  private newBatch(): Batch {
    const batch: Batch = {
      unsettled: 0,
      settled: () => {
        batch.unsettled--;
        if (batch.unsettled === 0) this.release();
      },
      failed: (error) => {
        this.failure ??= { error };
        batch.settled();
      },
    };
    return batch;
  }

  /** Hands every closed batch whose writes, and all earlier ones, have settled to its waiter. */
  private release(): void {
    for (
      let batch = this.batches[0];
      batch?.waiter !== undefined && batch.unsettled === 0;
      batch = this.batches[0]
    ) {
      this.batches.shift();
      batch.waiter(this.failure);
    }
  }
}
