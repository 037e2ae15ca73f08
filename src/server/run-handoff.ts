import { messageOf } from '../core/error-message.js';
import type { RunId } from '../core/ids.js';
import { thisProcess } from '../engine/run-owner.js';
import type { ApiContext } from './context.js';
import type { FleetRunnerView } from './runner-directory.js';
import { hasAll, takingJobsElsewhere } from './runners-elsewhere.js';

/** A run is handed off at most once in this long, by default (the floor between its handoffs). */
export const defaultHandoffFloorMs = 10_000;

/**
 * How long a replica that did not adopt a run handed to it is not handed that run again by the replica
 * that took the run over instead (notAdopted): long beside the 15 s each such handoff leaves the run
 * without a driver (and its places in concurrency groups lapse), short enough that a replica that was
 * only stalled gets the run once its runners are the only ones for it.
 */
export const notAdoptedAvoidMs = 5 * 60_000;

/**
 * Hands the runs this replica drives to another replica whose runners take their jobs (docs/replicas.md,
 * "Which runners get a run's jobs"): leases live in the driving replica's memory, so a run's jobs go
 * only to runners connected to it. A run is handed off when each of its ready jobs waits for a
 * runner with its labels and none connected here has them, while a runner connected to another
 * replica has them for at least one of those jobs and takes jobs (the runner list in the store), and no
 * job of it is offered, running or leased here (ControlPlane.handoffCheck) — so its runners lose
 * nothing. This replica stops driving it first (ControlPlane.abandonRun: nothing of it is offered here
 * after), then records in the store, with a compare-and-set on its ownership, which replica is to take it
 * (RunRecoveryStore.handOff); that replica's takeover sweep adopts it at once (run-takeover.ts), any
 * other one only once the handoff is stale (run-liveness.ts). Places in concurrency groups, the run's
 * and its jobs', are left unbeaten for that replica to adopt (same place, renamed): its sweep comes
 * within one interval (5 s), well before a member without beats is dropped (10 s); one adopted later
 * joins anew, at the back. Not handed off: a run submitted with secrets (their values are never
 * stored, and a takeover cancels its jobs), one whose last handoff is less than `floorMs` old (a run
 * handed back and forth as its jobs' labels require does so at that pace at most), nor to a replica
 * that did not adopt it when it was last handed there, for `notAdoptedAvoidMs` after this replica took
 * it over instead (notAdopted): without that the run would go back to it at once, and again each time
 * its handoff went stale. Called by each takeover sweep.
 */
export class RunHandoff {
  /** Per run driven here, the replica not to hand it to (notAdopted), until when. */
  private readonly avoided = new Map<string, { readonly replica: string; readonly until: number }>();

  constructor(
    private readonly context: ApiContext,
    private readonly floorMs: number = defaultHandoffFloorMs,
  ) {}

  /**
   * This replica took over run `runId` that was handed to `replica`, which did not adopt it before the
   * handoff went stale: the run is not handed to `replica` again for `notAdoptedAvoidMs`.
   */
  notAdopted(runId: string, replica: string): void {
    this.avoided.set(runId, { replica, until: this.context.clock.now() + notAdoptedAvoidMs });
  }

  /** Hands off what it can now; resolves with the ids of the runs it handed off. */
  async sweep(): Promise<string[]> {
    const { controlPlane, driven, runners, stores, clock } = this.context;
    for (const [runId, { until }] of this.avoided)
      if (until <= clock.now() || !driven.has(runId)) this.avoided.delete(runId);
    const waiting: { readonly id: RunId; readonly runsOn: readonly (readonly string[])[] }[] = [];
    for (const { handle } of driven.values()) {
      const check = controlPlane.handoffCheck(handle.id);
      if (check.kind === 'waiting') waiting.push({ id: handle.id, runsOn: check.runsOn });
    }
    if (waiting.length === 0) return [];
    const elsewhere = takingJobsElsewhere(await runners.list(), runners.replica);
    if (elsewhere.length === 0) return [];
    const ownerships = await stores.recovery.ownerships(waiting.map(({ id }) => id));
    const handed: string[] = [];
    for (const { id, runsOn } of waiting) {
      if (this.context.closing()) break;
      const avoided = this.avoided.get(id)?.replica;
      const target = replicaFor(
        runsOn,
        elsewhere.filter((runner) => runner.replica !== avoided),
      );
      if (target === undefined) continue;
      const last = ownerships.get(id)?.handedOffAt;
      if (last !== undefined && clock.now() - last < this.floorMs) continue;
      const resumable = await stores.recovery.getResumable(id);
      // Another replica continues it from what is stored: its workflow and request, never secrets.
      if (resumable?.request.driver !== 'server' || resumable.request.secretNames.length > 0) continue;
      if (await this.handOff(id, target)) handed.push(id);
    }
    return handed;
  }

  private async handOff(runId: RunId, target: string): Promise<boolean> {
    const { controlPlane, stores, clock } = this.context;
    // Again, after the reads above: nothing runs between this check and abandonRun, so no job of the
    // run is offered here once it passed.
    if (controlPlane.handoffCheck(runId).kind !== 'waiting' || !controlPlane.abandonRun(runId, true))
      return false;
    // Its event streams end telling their clients where it went, before the end trackDrivenRun gives them.
    this.context.feed.abandon(runId, target);
    // The run's job updates held for this turn (StoreWrites) reach the store first, so that none of its
    // last driver's lands after the handoff, under a claim of the new one.
    await Promise.resolve();
    try {
      if (await stores.recovery.handOff(runId, thisProcess(), target, clock.now(), this.floorMs)) {
        this.context.logNotice(
          `handed run ${runId} to replica ${target}: its waiting jobs need runners connected there`,
        );
        return true;
      }
      // handOff's compare-and-set refused: another server took the run meanwhile, it ended, or it was
      // handed off within the floor; only in the last case is it left without a driver for a while.
      this.context.logNotice(
        `stopped driving run ${runId} to hand it to ${target}, but the store refused the handoff (another server drives it now, it ended, or it moved within the last ${this.floorMs / 1000} s); if none drives it, a server takes it over once its heartbeat is stale`,
      );
    } catch (error) {
      const reason = messageOf(error);
      this.context.logNotice(
        `stopped driving run ${runId} to hand it to ${target}, but the store failed (${reason}); a server takes it over once its heartbeat is stale`,
      );
    }
    return false;
  }
}

/**
 * The replica whose runners take the most of the waiting jobs (each job's labels all on one runner);
 * the first listed of those tied.
 */
function replicaFor(
  runsOn: readonly (readonly string[])[],
  runners: readonly FleetRunnerView[],
): string | undefined {
  const served = new Map<string, number>();
  for (const labels of runsOn) {
    const replicas = new Set<string>();
    for (const runner of runners)
      if (runner.replica !== undefined && hasAll(runner, labels)) replicas.add(runner.replica);
    for (const replica of replicas) served.set(replica, (served.get(replica) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [replica, count] of served)
    if (best === undefined || count > (served.get(best) ?? 0)) best = replica;
  return best;
}
