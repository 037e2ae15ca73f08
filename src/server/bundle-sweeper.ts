import type { Clock } from '../core/clock.js';
import { PeriodicTask } from '../core/periodic-task.js';
import type { BundleStore, RemovedBundles } from '../store/bundles.js';
import type { RunRecoveryStore } from '../store/recovery.js';

/**
 * A week. GitHub keeps artifacts 90 days by default, but a bundle only serves its run's jobs and the
 * re-runs of its failures, which come within days; submitting again uploads it again.
 */
export const defaultBundleRetentionMs = 7 * 24 * 3_600_000;

/** A sweep an hour at most: a bundle outlives its retention by at most that, and sweeps stay rare. */
export function bundleSweepIntervalMs(retentionMs: number): number {
  return Math.min(3_600_000, Math.max(1_000, Math.floor(retentionMs / 4)));
}

/**
 * How long after a job's fetch of a bundle another fetch is not recorded (BundleFetchTouches): a
 * hundredth of the retention, at most a minute. Sweeps take their cut-off that much earlier, so a
 * bundle fetched after its recorded use is still kept for the whole retention after that fetch.
 */
export function bundleFetchTouchIntervalMs(retentionMs: number): number {
  return Math.min(60_000, Math.floor(retentionMs / 100));
}

/** A retention as `--bundle-retention` takes it: `7d`, `12h`, `30m`, `45s`. */
export function formatRetention(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

/** VK_BUNDLE_NOT_FOUND for a run whose bundle the sweep removed, saying so and what to do. */
export function bundleRemovedMessage(runId: string, sha256: string, retentionMs: number): string {
  return (
    `run ${runId}'s workspace bundle ${sha256} is no longer stored: it was removed after the ` +
    `server's bundle retention period (${formatRetention(retentionMs)} unused); submit the workflow again`
  );
}

/**
 * The server's retention of workspace bundles (`--bundle-retention`): every `intervalMs`, it removes
 * the bundles nobody has used for `retentionMs` (not uploaded, not named by a submitted or re-run
 * run, not fetched by a job: each of those touches the bundle, a fetch at most once per
 * bundleFetchTouchIntervalMs, which the cut-off allows for) unless an unfinished run names it.
 * Every replica sweeps; BundleStore.removeUnused lets sweeps run at once.
 *
 * Why this never removes a bundle a live run needs, though submits race the sweep on any replica:
 * - a run that is unfinished when the sweep lists the unfinished runs is in `keep`;
 * - a run that becomes unfinished after that (a submit, or a re-run reopening it) touched its bundle
 *   first, at about the sweep's now, and only then was stored. BundleStore orders a touch with a
 *   removal of the same bundle: either the touch came first, and the bundle's last use is then far
 *   later than this sweep's cut-off (now − retention), so it stays; or the removal came first, the
 *   touch answered false, and the submit or re-run was refused (404) with no run stored.
 * - an upload's last use is read once its body has arrived (BundleStore.put), so however long the
 *   upload took, the bundle is as fresh as its end, and the submit that follows touches it in time.
 * This holds while the replicas' clocks differ by much less than the retention (at least 1m).
 *
 * Lifecycle: `start()` once; `stop()` (idempotent) waits for a sweep in progress, before the store closes.
 */
export class BundleSweeper {
  private readonly sweeps: PeriodicTask;

  constructor(
    private readonly bundles: BundleStore,
    private readonly runs: RunRecoveryStore,
    private readonly clock: Clock,
    private readonly retentionMs: number,
    intervalMs: number,
    logError: (error: unknown) => void,
  ) {
    this.sweeps = new PeriodicTask(() => this.sweep(), intervalMs, logError);
  }

  start(): void {
    this.sweeps.start();
  }

  stop(): Promise<void> {
    return this.sweeps.stop();
  }

  /** Removes what it can now; resolves with what it removed. */
  async sweep(): Promise<RemovedBundles> {
    // Listed before the cut-off is taken: a run stored after the listing touched its bundle later still.
    const keep = await this.runs.unfinishedRunBundles();
    // A fetch's use may be recorded up to a touch interval before the fetch (BundleFetchTouches).
    const unusedFor = this.retentionMs + bundleFetchTouchIntervalMs(this.retentionMs);
    return this.bundles.removeUnused(this.clock.now() - unusedFor, keep);
  }
}
