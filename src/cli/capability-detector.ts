import type { RunnerCapabilities } from '../protocol/messages.js';
import { type CapabilityOptions, detectCapabilities } from '../runner/capabilities.js';

/**
 * The runner's capability detections, the first and each refresh, with their warnings told once: a
 * refresh that finds the same again (every 5 minutes) says nothing more; one that finds another, or
 * the same again after a detection without it, tells it. A detection cut short by the stop (its
 * signal aborted), or that ends after one started later, tells nothing and gives nothing to send.
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
  private get stopped(): boolean {
    return this.options.signal?.aborted === true;
  }

  /**
   * What this machine offers now, to send; undefined from a detection that must not be sent: one cut
   * short by the stop lacks what it did not finish probing, and one that ends after a later one says
   * what is no longer so (sent, it would replace the newer capabilities on the server).
   */
  async detect(): Promise<RunnerCapabilities | undefined> {
    const number = ++this.started;
    const warnings: string[] = [];
    const capabilities = await detectCapabilities({ ...this.options, warn: (line) => warnings.push(line) });
    if (this.stopped || number < this.latestTold) return undefined;
    this.latestTold = number;
    for (const line of warnings) if (!this.told.has(line)) this.warn(line);
    this.told = new Set(warnings);
    return capabilities;
  }
}
