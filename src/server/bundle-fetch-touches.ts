import type { Clock } from '../core/clock.js';
import type { BundleStore } from '../store/bundles.js';

/** Bundles whose last touch this process remembers; past it, the oldest is forgotten (one more touch). */
const maxRemembered = 10_000;

/**
 * Jobs' fetches of their workspace bundles, recorded as uses (BundleStore.touch) at most once per
 * `intervalMs` per bundle: every leg of a 250-leg matrix fetches the same bundle, and each touch is
 * a write of the bundle's row. The sweep's cut-off is that much earlier (bundle-sweeper.ts), so a
 * bundle is still kept for the whole retention after its last fetch.
 *
 * A fetch within the interval answers what the touch it follows answered, without asking the store:
 * a touch that answered true keeps the bundle stored until a removal's cut-off passes it, which is
 * a retention later, far beyond the interval. A touch that answers false, or fails, is forgotten, so
 * the next fetch asks again. Concurrent fetches of one bundle share one touch.
 */
export class BundleFetchTouches {
  /** By sha256, oldest first: when each bundle was last touched, and what that touch answers. */
  readonly #touched = new Map<string, { readonly at: number; readonly stored: Promise<boolean> }>();

  constructor(
    private readonly bundles: BundleStore,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  /** Asks the store again at the next fetch of the bundle: it was removed without a sweep (found damaged). */
  forget(sha256: string): void {
    this.#touched.delete(sha256);
  }

  /** Records a fetch of the bundle; answers whether it is stored (BundleStore.touch). */
  touch(sha256: string): Promise<boolean> {
    const now = this.clock.now();
    const last = this.#touched.get(sha256);
    if (last !== undefined && now >= last.at && now - last.at < this.intervalMs) return last.stored;
    const touch = { at: now, stored: this.bundles.touch(sha256, now) };
    this.#touched.delete(sha256);
    this.#touched.set(sha256, touch);
    if (this.#touched.size > maxRemembered) {
      const oldest = this.#touched.keys().next();
      if (oldest.done !== true) this.#touched.delete(oldest.value);
    }
    const forget = () => {
      if (this.#touched.get(sha256) === touch) this.#touched.delete(sha256);
    };
    touch.stored.then((stored) => {
      if (!stored) forget();
    }, forget);
    return touch.stored;
  }
}
