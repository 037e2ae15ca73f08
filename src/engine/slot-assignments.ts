import type { RunnerRegistry, RunnerSession } from './runner-registry.js';

/**
 * Which session each offered or leased job takes a slot of, kept in step with the session's own
 * `assigned` and the registry's index of runners with a free slot.
 */
export class SlotAssignments {
  private readonly assignee = new Map<string, RunnerSession>();

  constructor(private readonly registry: RunnerRegistry) {}

  /** The session `jobId` takes a slot of; undefined when none. */
  holder(jobId: string): RunnerSession | undefined {
    return this.assignee.get(jobId);
  }

  assign(session: RunnerSession, jobId: string): void {
    session.assigned.add(jobId);
    this.assignee.set(jobId, session);
    this.registry.refresh(session);
  }

  unassign(session: RunnerSession, jobId: string): void {
    session.assigned.delete(jobId);
    if (this.assignee.get(jobId) === session) this.assignee.delete(jobId);
    this.registry.refresh(session);
  }
}
