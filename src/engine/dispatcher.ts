import type { ControlMessage, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { isCredentialRevokedReason } from '../protocol/transport-end.js';
import { labelSetName } from '../selection/label-set.js';
import { Declines } from './declines.js';
import type { DispatcherHandlers, DispatcherOptions } from './dispatcher-handlers.js';
import { HeldMessages } from './held-messages.js';
import { JobQueue } from './job-queue.js';
import { type Leg, moveLeg } from './leg.js';
import { OutstandingOffers } from './outstanding-offers.js';
import { RunnerPicker } from './runner-picker.js';
import { type RunnerAvailability, RunnerRegistry, type RunnerSession } from './runner-registry.js';
import type { RunnerIdentity, RunnerMode, RunnerView } from './runner-view.js';
import { SlotAssignments } from './slot-assignments.js';
import { WakeUpTimer } from './wake-up-timer.js';

export type { DispatcherHandlers, DispatcherOptions, LeaseMessage } from './dispatcher-handlers.js';
export type { RunnerSession } from './runner-registry.js';

/** How a session ended: its connection closed, it deregistered, or a new session of its runner took over. */
type SessionEnd = 'closed' | 'stopped' | 'superseded';

/**
 * Runner sessions and the queue of ready jobs: matches the head of the queue to runners that have the
 * labels and a free slot, sends offers, and takes the answers. An offer not answered within
 * `offerTtlMs` lapses: the job goes back to the queue, to be offered to others. A runner that declined
 * a job (or lost its lease) is not offered that job again until it finishes some job; one that let
 * its offer lapse, until its late answer comes (see lateAnswer) or it finishes some job.
 *
 * Only runners with a free slot in `online` mode (not draining, not in maintenance) are candidates;
 * they are found through an index by label, so an offer does not walk every connected runner. Queued
 * jobs are grouped by their runs-on label set, and a dispatch passes over a whole group when no free
 * runner has its labels: the jobs no runner can take now cost one look per label set, not one each.
 */
export class Dispatcher {
  private readonly registry: RunnerRegistry;
  private readonly slots: SlotAssignments;
  private readonly held = new HeldMessages();
  /** Sessions whose `register` waits for `beforeRegister`: what they send meanwhile is held. */
  private readonly registering = new WeakSet<RunnerSession>();
  private readonly queue: JobQueue<Leg>;
  private readonly wakeUp: WakeUpTimer;
  private readonly offers: OutstandingOffers;
  private readonly declines = new Declines();
  private readonly picker: RunnerPicker;
  private closed = false;
  /** False once the server shuts down (stopOffering): its drain holds whatever mode a runner is set to. */
  private offering = true;

  constructor(
    private readonly handlers: DispatcherHandlers,
    private readonly options: DispatcherOptions,
  ) {
    const { agingIntervalMs, clock } = options;
    this.registry = new RunnerRegistry(options.storedRunnerMode);
    this.queue = new JobQueue<Leg>({
      agingIntervalMs,
      now: () => clock.now(),
      groupOf: (leg) => labelSetName(leg.runsOn),
    });
    this.wakeUp = new WakeUpTimer(options, () => this.dispatch());
    this.offers = new OutstandingOffers(options, (jobId) => this.offerLapsed(jobId));
    this.picker = new RunnerPicker(this.registry, this.declines);
    this.slots = new SlotAssignments(this.registry);
  }

  connect(transport: Transport<ControlMessage, RunnerMessage>, identity?: RunnerIdentity): RunnerSession {
    const session = this.registry.open(transport, identity);
    transport.onMessage((message) => this.handle(session, message));
    transport.onClose((reason) => this.onClose(session, reason));
    return session;
  }

  /** `stillHeld`: whether runner (by id) still holds its lease on a job, for those of closed sessions. */
  runners(stillHeld: (jobId: string, runnerId: string) => boolean): RunnerView[] {
    return this.registry.views((session) => {
      let running = 0;
      for (const jobId of session.assigned) if (this.offers.get(jobId)?.runner !== session) running++;
      return running;
    }, stillHeld);
  }

  /** Whether a connected runner may take a job with every label of `runsOn` (see RunnerRegistry). */
  runnerAvailabilityFor(runsOn: readonly string[]): RunnerAvailability {
    return this.registry.availabilityFor(runsOn);
  }

  /** The `runs-on` labels of a job in the queue here; undefined for one that is not. */
  queuedRunsOn(jobId: string): readonly string[] | undefined {
    return this.queue.get(jobId)?.runsOn;
  }

  /** Forgets runners (with an identity) that disconnected before `time`: see RunnerRegistry. */
  forgetRunners(closedBefore: number): void {
    this.registry.forgetClosedBefore(closedBefore);
  }

  /** Each runner's jobs its closed sessions held leases on (they may have expired since), by runner id. */
  detachedJobs(): [runnerId: string, jobIds: readonly string[]][] {
    return this.registry.detachedJobs();
  }

  /** The jobs the closed sessions of runner `runnerId` held leases on; the list is emptied. */
  takeDetached(runnerId: string): string[] {
    return this.registry.takeDetached(runnerId);
  }

  /** Draining and maintenance runners get no new offers. False when no runner has that id (ControlPlane's `by`). */
  setRunnerMode(
    runnerId: string,
    mode: RunnerMode,
    by: 'operator' | 'shutdown' = 'operator',
    note?: string,
  ): boolean {
    if (!this.registry.setMode(runnerId, mode, by === 'operator', note)) return false;
    this.dispatch();
    return true;
  }

  /**
   * The session a job whose lease an earlier control plane granted runner `runnerId` waits on for the
   * runner, which is away (see RunnerRegistry.awaySession); undefined when the runner is connected here.
   */
  awaySession(runnerId: string, jobId: string): RunnerSession | undefined {
    return this.registry.awaySession(runnerId, jobId, this.options.clock.now());
  }

  /** `runner` resumed its lease on `jobId` on this session (after a transport switch): it takes a slot. */
  adopt(runner: RunnerSession, jobId: string): void {
    this.slots.assign(runner, jobId);
  }

  /** A job became ready: it waits behind the jobs already queued. */
  enqueue(leg: Leg): void {
    this.queue.push(leg);
  }

  /** A job lost its runner (decline, lapsed offer, lost lease): back to the head of the queue. */
  requeue(leg: Leg): void {
    if (leg.status !== 'queued') moveLeg(leg, 'queued');
    this.queue.pushFront(leg);
  }

  /** The job ended (or was cancelled) in the control plane: nothing about it is pending any more. */
  forget(jobId: string): void {
    this.queue.remove(jobId);
    this.declines.forgetJob(jobId);
    this.offers.drop(jobId);
    const session = this.slots.holder(jobId);
    if (session !== undefined) this.slots.unassign(session, jobId);
    // A delayed job's wake-up is kept alive: it must not outlive the job.
    this.wakeUp.armFor(this.queue.nextReadyAt());
  }

  /**
   * The server is shutting down: no job is offered again, to any runner, whatever its mode becomes
   * (an operator's, synced from the store) and also to one that connects now. Offers out still count.
   */
  stopOffering(): void {
    this.offering = false;
  }

  /** Offers nothing more, and cancels its timers: no wake-up or offer lapse fires after this. */
  close(): void {
    this.closed = true;
    this.wakeUp.close();
    this.offers.close();
  }

  /** `runner` reported the end of `jobId` under its current lease: its slot is free again. */
  release(runner: RunnerSession, jobId: string): void {
    this.slots.unassign(runner, jobId);
    this.roomMadeBy(runner);
  }

  /**
   * `runner` reported the end of a job whose lease it had lost: the slot that kept is free again. Even
   * without such a slot, the runner ended a job, so jobs it declined for want of room are its again.
   */
  releaseOrphan(runner: RunnerSession, jobId: string, fencingToken: number): void {
    if (runner.orphaned.get(jobId) === fencingToken) {
      runner.orphaned.delete(jobId);
      this.registry.refresh(runner);
    }
    this.roomMadeBy(runner);
    this.dispatch();
  }

  /**
   * `runner` lost its lease on `jobId` but may still be running it: its slot stays taken, and the job
   * is not offered back to it.
   */
  orphan(runner: RunnerSession, jobId: string, fencingToken: number): void {
    if (!runner.assigned.has(jobId)) return;
    runner.orphaned.set(jobId, fencingToken);
    this.slots.unassign(runner, jobId);
    this.avoid(jobId, runner);
  }

  /**
   * Offers queued jobs, in order, to runners with the labels and a free slot. Stops as soon as no
   * runner has a free slot, so a long queue costs nothing while the runners are busy; and leaves a
   * label set as soon as no free runner has its labels, so jobs that cannot be placed cost nothing
   * either. What it walks: the offers it makes, a job per label set, and jobs that every free
   * runner with their labels declined.
   */
  dispatch(): void {
    if (this.closed || !this.offering) return;
    this.wakeUp.armFor(this.queue.nextReadyAt());
    if (!this.registry.anyFree()) return;
    if (this.takeHeads())
      for (const leg of this.queue.entries(this.picker.noRunnerFor)) {
        const runner = this.picker.pick(leg);
        if (!runner) {
          if (!this.registry.anyFree()) break;
          continue;
        }
        this.offer(leg, runner);
      }
    this.offers.armLapse();
  }

  /**
   * The usual case, one label set queued (and a slot freed as each job ends): offers the queue's head
   * while a runner takes it, as dispatch's walk would, without the walk's generator, heap and array.
   * True when the walk is still needed: more label sets, or a head that only the runners that
   * declined it could take, so the jobs behind it may still be placed.
   */
  private takeHeads(): boolean {
    while (this.queue.groupCount === 1) {
      if (!this.registry.anyFree()) return false;
      const leg = this.queue.head();
      if (leg === undefined) return false;
      const runner = this.picker.pick(leg);
      if (runner === undefined) return this.registry.anyFree() && !this.picker.noRunnerFor(leg);
      this.offer(leg, runner);
    }
    return this.queue.groupCount > 0;
  }

  private offer(leg: Leg, runner: RunnerSession): void {
    this.queue.remove(leg.id);
    moveLeg(leg, 'offered');
    this.slots.assign(runner, leg.id);
    this.offers.add(leg, runner);
    runner.transport.send({ type: 'offer', jobId: leg.id, name: leg.name, ttlMs: this.options.offerTtlMs });
  }

  private handle(session: RunnerSession, message: RunnerMessage): void {
    if (message.type === 'register') {
      // A second register while the first waits comes after it, as any message does.
      if (this.registering.has(session)) this.held.hold(session, message);
      else {
        const wait =
          session.info === undefined
            ? this.handlers.beforeRegister?.(session, message.resume ?? [])
            : undefined;
        if (wait === undefined) this.register(session, message);
        else this.registerAfter(wait, session, message);
      }
      return;
    }
    if (session.info === undefined) {
      this.held.hold(session, message);
      return;
    }
    switch (message.type) {
      case 'capabilities':
        session.capabilities = message.capabilities;
        return;
      case 'drain':
        this.registry.drained(session);
        return;
      case 'deregister':
        this.deregister(session, message.reason);
        return;
      case 'accept':
      case 'decline':
        this.onOfferAnswer(session, message.jobId, message.type === 'accept');
        return;
      default:
        this.handlers.leaseMessage(session, message);
    }
  }

  private registerAfter(
    wait: Promise<void>,
    session: RunnerSession,
    message: Extract<RunnerMessage, { type: 'register' }>,
  ): void {
    this.registering.add(session);
    void wait.then(() => {
      this.registering.delete(session);
      if (session.closed || this.closed) return;
      this.register(session, message);
    });
  }

  private register(session: RunnerSession, message: Extract<RunnerMessage, { type: 'register' }>): void {
    const superseded = this.registry.register(session, message);
    if (superseded !== undefined) {
      // The runner moved to this connection; the old one may not have noticed yet that it is dead.
      this.onClose(superseded, 'superseded by a new connection of the same runner', 'superseded');
      superseded.transport.close('superseded by a new connection of the same runner');
    }
    session.transport.send(this.registry.registered(session));
    const detached = session.durable ? this.registry.takeDetached(session.runnerId) : [];
    this.handlers.registered(session, message.resume ?? [], detached);
    for (const early of this.held.take(session)) this.handle(session, early);
    this.dispatch();
  }

  /**
   * Closes the session as stopped (listed so, not as lost) while its connection is still open for the
   * answer. A runner with an identity would otherwise keep its leases until their TTL in case it comes
   * back; one that deregistered will not come back with them.
   */
  private deregister(session: RunnerSession, reason: string): void {
    if (session.closed) return;
    this.onClose(session, `deregistered: ${reason}`, 'stopped');
    const leased = session.durable ? this.registry.takeDetached(session.runnerId) : [];
    this.handlers.deregistered(session, leased, reason);
  }

  private onOfferAnswer(session: RunnerSession, jobId: string, accepted: boolean): void {
    const offer = this.offers.get(jobId);
    if (!offer || offer.runner !== session) {
      // Lapsed, or cancelled while the offer was out (forget() freed the slot then).
      if (this.declines.lapsed(jobId, session.id)) this.lateAnswer(session, jobId, accepted);
      return;
    }
    this.offers.drop(jobId);
    const { leg } = offer;
    if (leg.status !== 'offered') {
      this.slots.unassign(session, jobId);
      return;
    }
    if (!accepted) {
      this.declinedBy(session, leg);
      return;
    }
    this.declines.forgetJob(jobId);
    this.handlers.accepted(session, leg);
  }

  /**
   * The answer to an offer that lapsed, which a slow link (a long-poll backlog, a runner that did not
   * run for a while) brings late. A decline stands as one. An accept takes the job, as one in time
   * would, when the job still waits in the queue (not offered to another runner, nor leased) and the
   * runner may take an offer now; otherwise it is not taken, and nothing is sent back: the runner
   * holds no slot for a job until its lease comes. Either way, a runner that accepted may be offered
   * the job again, should it come back to the queue.
   */
  private lateAnswer(session: RunnerSession, jobId: string, accepted: boolean): void {
    if (!accepted) {
      this.avoid(jobId, session);
      return;
    }
    this.declines.forgetLapse(jobId, session.id);
    const leg = this.queue.get(jobId);
    if (leg === undefined || !this.mayTakeNow(session, leg)) return;
    this.queue.remove(jobId);
    moveLeg(leg, 'offered');
    this.slots.assign(session, jobId);
    this.declines.forgetJob(jobId);
    this.handlers.accepted(session, leg);
  }

  /** Whether `session` may take queued `leg` now, as dispatch would offer it (the labels matched its offer). */
  private mayTakeNow(session: RunnerSession, leg: Leg): boolean {
    const { notBefore } = leg;
    return (
      !this.closed &&
      this.offering &&
      leg.status === 'queued' &&
      (notBefore === undefined || notBefore <= this.options.clock.now()) &&
      this.registry.isFree(session)
    );
  }

  private offerLapsed(jobId: string): void {
    const offer = this.offers.get(jobId);
    if (!offer) return;
    this.offers.drop(jobId);
    if (offer.leg.status !== 'offered') return;
    const { runner, leg } = offer;
    this.slots.unassign(runner, jobId);
    this.declines.addLapse(jobId, runner.id);
    this.requeue(leg);
    this.dispatch();
  }

  private declinedBy(session: RunnerSession, leg: Leg): void {
    this.slots.unassign(session, leg.id);
    this.avoid(leg.id, session);
    this.requeue(leg);
    this.dispatch();
  }

  /** A runner that declined for want of room may have room now. */
  private roomMadeBy(runner: RunnerSession): void {
    this.declines.forgetSession(runner.id);
  }

  private avoid(jobId: string, session: RunnerSession): void {
    this.declines.add(jobId, session.id);
  }

  /**
   * Idempotent. Unanswered offers count as declined by the closed session. A runner without identity
   * has lost its leased jobs; one with an identity keeps them until their TTL, its next register or
   * the revocation of its credential. A `superseded` one is not away: the `register` of the runner's
   * new session settles its leases (`registered`), and nothing is dispatched before they are resumed
   * (`runnerAway` could end jobs and dispatch before the new session is told `registered`).
   */
  private onClose(session: RunnerSession, reason: string, how: SessionEnd = 'closed'): void {
    if (session.closed) return;
    this.registry.closed(session, this.options.clock.now(), how === 'stopped');
    this.held.drop(session);
    const leased: string[] = [];
    for (const jobId of [...session.assigned]) {
      const offer = this.offers.get(jobId);
      if (offer?.runner === session) {
        this.offers.drop(jobId);
        this.slots.unassign(session, jobId);
        if (offer.leg.status === 'offered') this.requeue(offer.leg);
      } else {
        leased.push(jobId);
        this.slots.unassign(session, jobId);
      }
    }
    session.orphaned.clear();
    // A closed session gets no offers again (a reconnect is a new session): its declines are moot.
    this.declines.forgetSession(session.id);
    if (session.durable) {
      this.registry.detach(session, leased);
      // A runner whose credential was revoked cannot come back: its leases are lost right after
      // (ControlPlane.runnerRevoked), and its jobs' logs would say they wait for it first.
      if (how !== 'superseded' && !isCredentialRevokedReason(reason))
        this.handlers.runnerAway(session, leased);
    } else this.handlers.runnerLost(session, leased, reason);
    if (how !== 'superseded') this.dispatch();
  }
}
