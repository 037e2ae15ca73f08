import type { RunStatus } from '../core/outcome.js';
import type { RunEvent } from '../engine/events.js';

/**
 * Follows `valkyrie run`'s events for whether its run ended while it still waited for its workflow's
 * concurrency group (cancelled by `valkyrie cancel` or Ctrl-C), which the live view shows only as its
 * jobs ending cancelled: the command then says so in one line. A run a newer run of the group replaced
 * is left out: its view says so already; so is one the store failed while it waited, whose `done`
 * rejects with the store's error (workflow-group.ts), which says so.
 */
export class GroupWait {
  #group: string | undefined;
  #started = false;
  #replaced = false;
  #reason: string | undefined;

  onEvent(event: RunEvent): void {
    switch (event.type) {
      case 'concurrency':
        if (event.state === 'waiting') this.#group = event.group;
        if (event.state === 'replaced') this.#replaced = true;
        return;
      case 'run.started':
        this.#started = true;
        return;
      case 'job.completed':
        if (event.status === 'cancelled') this.#reason ??= event.reason;
        return;
    }
  }

  /** The line to print when the run ended `status` before its group gave it the slot; else undefined. */
  endedWaiting(runId: string, status: RunStatus): string | undefined {
    const group = this.#group;
    if (group === undefined || this.#started || this.#replaced || status !== 'cancelled') return undefined;
    const why = this.#reason === undefined ? '' : `: ${this.#reason}`;
    return `valkyrie: run ${runId} was cancelled while it waited for concurrency group ${group}${why}; none of its steps ran\n`;
  }
}
