import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { messageOf } from '../core/error-message.js';
import type { ConcurrencyStore } from '../store/concurrency.js';
import { failedConcurrencyKey, resolveConcurrency } from '../workflow/concurrency.js';
import type { Workflow } from '../workflow/model.js';
import { groupCancelReason } from './cancel-reasons.js';
import { groupClockAt } from './concurrency-gate.js';
import { GroupMembership } from './group-membership.js';
import { keyPlace } from './job-expansion.js';
import { type Leg, specOf } from './leg.js';

/** What the control plane does when a job's group decides. */
export interface JobGroupHooks {
  /** Waiting for the group (once, before the first poll). */
  waiting(leg: Leg, group: string): void;
  /** The slot is the job's: queue it for a runner. */
  admitted(leg: Leg): void;
  /** A newer job of the group replaced this one while it waited, or asked it to cancel while it ran. */
  cancelled(leg: Leg, reason: string): void;
  /** The group's expression could not be evaluated: the job fails before it starts, as on GitHub. */
  failed(leg: Leg, reason: string): void;
}

/**
 * Job-level `concurrency:`: a job with a group waits for the group's slot between being planned and
 * being queued, and keeps it until its final attempt ends (retries keep the slot). Membership lives in
 * the same ConcurrencyStore as workflow-level groups, so it holds across processes too.
 * Lifecycle per leg: `enter` once when it would be queued (a job that was running in a dead process:
 * when its next attempt would be) → hooks → `release` (or `releaseOf`) when it is final
 * (idempotent; aborts a wait still in progress), or `abandon` when another process took the run over.
 *
 * A leg's member id is its family (the leg and its group) and this process's owner part, so that a
 * process taking a run over can find the member the earlier one left and, with `adopt`, keep the
 * job's place under its own id (which fences the earlier process off the member, JoinRequest.adopt).
 */
export class JobGroups {
  readonly #members = new Map<string, GroupMembership>();
  /** This control plane's part of its member ids. */
  readonly #owner = randomBytes(6).toString('hex');

  constructor(
    private readonly store: ConcurrencyStore,
    private readonly clock: Clock,
    private readonly hooks: JobGroupHooks,
  ) {}

  /**
   * False when the leg has no group (queue it now); true when the hooks will say what to do. With
   * `adopt` (a leg of a run taken over), a member the leg's earlier process left running or waiting
   * in the group, not yet dropped as stale, becomes this process's: same place, same slot; with
   * `returning` (the leg had joined there), a dropped one rejoins as the older member (JoinRequest.returning).
   */
  enter(leg: Leg, workflow: Workflow, { adopt = false, returning = false } = {}): boolean {
    const job = workflow.jobs.get(leg.key);
    const definition = job?.concurrency;
    if (job === undefined || definition === undefined) return false;
    const contexts = specOf(leg)?.contexts;
    if (contexts === undefined) return false;
    let resolved: ReturnType<typeof resolveConcurrency>;
    try {
      resolved = resolveConcurrency(definition, { contexts });
    } catch (error) {
      const message = messageOf(error);
      const key = failedConcurrencyKey(error);
      // Where the key is, as a workflow-level group's error and a job's other keys' say.
      const at = keyPlace(workflow, job, 'concurrency', [key]);
      queueMicrotask(() =>
        this.hooks.failed(leg, `${at}its concurrency ${key} could not be evaluated: ${message}`),
      );
      return true;
    }
    const { group } = resolved;
    let toldWaiting = false;
    const member = new GroupMembership(
      this.store,
      this.clock,
      // The family names the leg's place in this group whichever process holds it (a re-run may resolve
      // another group); the owner part tells this process's member from an earlier one's (adopt renames it).
      {
        ...resolved,
        memberId: `${memberFamily(leg, group)}${this.#owner}`,
        ...(adopt ? { adopt: memberFamily(leg, group), returning } : {}),
      },
      {
        waiting: () => {
          if (!toldWaiting) this.hooks.waiting(leg, group);
          toldWaiting = true;
        },
        admitted: () => this.hooks.admitted(leg),
        ended: (why) => this.hooks.cancelled(leg, groupCancelReason('job', group, why)),
      },
    );
    this.#members.set(leg.id, member);
    return true;
  }

  /** Whether the leg holds or waits for a place in a job-level group. */
  holds(legId: string): boolean {
    return this.#members.has(legId);
  }

  /**
   * Another process took the leg's run over and may adopt its member: stop beating it here, and leave
   * it in the store for that process (or for the stale sweep).
   */
  abandon(legId: string): void {
    this.#members.get(legId)?.abandon();
    this.#members.delete(legId);
  }

  /**
   * The control plane closes: every leg's member, waiting or admitted, stops here (GroupMembership.abandon)
   * and is left in the store for the process that takes its run over, or for the stale sweep.
   */
  stopAll(): void {
    for (const member of this.#members.values()) member.abandon();
    this.#members.clear();
  }

  /** The store write that gives the leg's place up; resolved at once when it has none (see holds). */
  release(legId: string): Promise<void> {
    const member = this.#members.get(legId);
    this.#members.delete(legId);
    return member?.release() ?? Promise.resolve();
  }

  /**
   * For a leg that is final: the store write that gives its places up, for the caller to run among its
   * own writes (so the job updates held before it land first), or undefined when there is none. A leg
   * of a run resumed from a process that certainly exited (ActiveRun.ownerExited) that has no member
   * here (it ended without entering) gives up the places that process left it, at once rather than
   * after the stale sweep; a stalled owner's places stay until the sweep, as it may still run the job.
   */
  releaseOf(
    leg: Leg,
    run: { readonly ownerExited: boolean; readonly workflow: Workflow } | undefined,
  ): (() => Promise<void>) | undefined {
    if (this.#members.has(leg.id)) return () => this.release(leg.id);
    if (run?.ownerExited !== true || run.workflow.jobs.get(leg.key)?.concurrency === undefined)
      return undefined;
    return async () => {
      await this.store.releasePrefixed(`job ${leg.id}:`, groupClockAt(this.clock.now()));
    };
  }
}

/** The start of every member id of `leg` in `group`, whichever process joined it. */
function memberFamily(leg: Leg, group: string): string {
  return `job ${leg.id}:${group}#`;
}

/**
 * The start of every member id of the jobs of `runId` (job ids are `RUN.N`) in any group, whichever
 * process joined it: for ending a run whose process died (run-ownership.ts).
 */
export function jobMembersOfRun(runId: string): string {
  return `job ${runId}.`;
}
