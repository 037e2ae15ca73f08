import type { SendLane } from './long-poll/outgoing-queue.js';
import type { RunnerMessage } from './messages.js';

const urgent: SendLane = { kind: 'urgent' };
const ordered: SendLane = { kind: 'ordered' };

/**
 * How a runner's long-poll session queues what it sends (AutoConnectOptions.laneOf). A job printing
 * faster than the server takes its lines builds a backlog in the queue; what keeps its lease and its
 * slot must not wait behind it:
 * - `renew`, `accept`, `decline` and `register` are urgent: a renewal that waits behind the backlog
 *   arrives after the lease expired, and an offer's answer after the offer did. None of them depends
 *   on what is queued before it (a `renew` ahead of its job's lines or completion extends the same
 *   lease), and urgent ones keep their own order.
 * - A numbered `log` (with `first`) is droppable past the queue's cap, never the newest of its job
 *   attempt: the control plane sees the gap in the numbers at the next one and writes in the job's log
 *   how many lines are missing. The agent still keeps them until the store acknowledges lines past
 *   them (ReportJournal), and a new session gets them again.
 * - Everything else keeps its order: step reports, completions, unnumbered lines (an older server
 *   would not see their loss), and `drain`/`deregister`, which must not overtake a completion.
 */
export function runnerSendLane(message: RunnerMessage): SendLane {
  switch (message.type) {
    case 'renew':
    case 'accept':
    case 'decline':
    case 'register':
      return urgent;
    case 'log':
      return message.first === undefined
        ? ordered
        : { kind: 'droppable', group: `${message.jobId} ${message.fencingToken}` };
    default:
      return ordered;
  }
}
