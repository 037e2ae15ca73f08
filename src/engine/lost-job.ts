import type { TerminalJobStatus } from '../core/outcome.js';
import type { AttemptOutcome } from '../core/retry-delay.js';
import type { RunnerLostPolicy } from '../workflow/model.js';

/** How a running job that lost its runner goes on. */
export type LostJobEnd =
  /** Back to the head of the queue as its next attempt; the lost one ends `runner_lost` with `reason`. */
  | { readonly kind: 'requeue'; readonly reason: string }
  | {
      readonly kind: 'end';
      readonly status: Extract<TerminalJobStatus, 'failed' | 'cancelled'>;
      readonly reason: string;
      readonly outcome?: AttemptOutcome;
    };

/**
 * A running job lost its runner (`why`: its lease expired, its runner disconnected, …). Its
 * `on-runner-lost:` policy says: back to the head of the queue as a new attempt (`requeue`; the lost
 * attempt is kept, ended `runner_lost` — no failure of the job — with a `runner_lost:` reason, as
 * GitHub and Buildkite show a lost agent's job once and its retry apart) or `failed` with a
 * `runner_lost:` reason (which `retry.when: [runner-lost]` may still retry). But cancelling wins: a
 * job that was being stopped (`cancelling`: why its runner was told to stop it — its run or the job
 * was cancelled) ends `cancelled` for that reason, never queued again — a deploy job of a cancelled
 * run must not start over on another runner.
 */
export function lostJobEnd(
  policy: RunnerLostPolicy,
  why: string,
  cancelling: string | undefined,
): LostJobEnd {
  if (cancelling !== undefined)
    return {
      kind: 'end',
      status: 'cancelled',
      reason: `${cancelling}; ended while its runner was away: ${why}`,
    };
  const reason = `runner_lost: ${why}`;
  if (policy === 'fail') return { kind: 'end', status: 'failed', reason, outcome: { kind: 'runner_lost' } };
  return { kind: 'requeue', reason };
}
