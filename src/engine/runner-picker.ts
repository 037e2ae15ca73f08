import type { Declines } from './declines.js';
import type { Leg } from './leg.js';
import type { RunnerRegistry, RunnerSession } from './runner-registry.js';

/** Which runner a queued job is offered to: a free one with its labels that has not declined it. */
export class RunnerPicker {
  constructor(
    private readonly registry: RunnerRegistry,
    private readonly declines: Declines,
  ) {}

  pick(leg: Leg): RunnerSession | undefined {
    const decliners = this.declines.decliners(leg.id);
    return this.registry.find(
      leg.runsOn,
      decliners === undefined ? undefined : (session) => decliners.has(session.id),
    );
  }

  /**
   * For a job dispatch passed over: true when no free runner has its labels, so no job of its label
   * set can be placed in this dispatch (free slots only get fewer during one). A job nobody declined
   * was passed over for just that reason; one that was declined may have been passed over only
   * because every free runner with the labels declined it, and the jobs behind it are still theirs.
   */
  readonly noRunnerFor = (leg: Leg): boolean =>
    this.declines.decliners(leg.id) === undefined || this.registry.find(leg.runsOn) === undefined;
}
