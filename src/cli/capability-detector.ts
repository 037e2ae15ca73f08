import type { RunnerCapabilities } from '../protocol/messages.js';
import { type CapabilityOptions, detectCapabilities } from '../runner/capabilities.js';

/**
 * The runner's capability detections, the first and each refresh, with their warnings told once: a
 * refresh that finds the same again (every 5 minutes) says nothing more; one that finds another, or
 * the same again after a detection without it, tells it. A detection cut short by the stop (its
 * signal aborted), or that ends after one started later, tells nothing.
 */
export class CapabilityDetector {
  private told = new Set<string>();
  /** Detections started, and the latest of them whose warnings were told: refreshes may overlap. */
  private started = 0;
  private latestTold = 0;

  constructor(
    private readonly options: Omit<CapabilityOptions, 'warn'>,
    private readonly warn: (line: string) => void,
  ) {}

  /** The runner is stopping: a detection running now is cut short. */
  get stopped(): boolean {
    return this.options.signal?.aborted === true;
  }

  async detect(): Promise<RunnerCapabilities> {
    const number = ++this.started;
    const warnings: string[] = [];
    const capabilities = await detectCapabilities({ ...this.options, warn: (line) => warnings.push(line) });
    // One that ends after a later one says what is no longer so.
    if (this.stopped || number < this.latestTold) return capabilities;
    this.latestTold = number;
    for (const line of warnings) if (!this.told.has(line)) this.warn(line);
    this.told = new Set(warnings);
    return capabilities;
  }
}
