import type { Clock, TimerHandle } from '../core/clock.js';
import type { ControlMessage, ResumedLease, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { labelSetName } from '../selection/label-set.js';
import { Declines } from './declines.js';
import { JobQueue } from './job-queue.js';
import { type Leg, moveLeg } from './leg.js';
import { type RunnerAvailability, RunnerRegistry, type RunnerSession } from './runner-registry.js';
import type { RunnerIdentity, RunnerMode, RunnerView } from './runner-view.js';

export type { RunnerSession } from './runner-registry.js';

/** The runner messages that are written under a lease, i.e. carry a fencing token. */
export type LeaseMessage = Extract<RunnerMessage, { readonly fencingToken: number }>;

/** How a session ended: its connection closed, it deregistered, or a new session of its runner took over. */
type SessionEnd = 'closed' | 'stopped' | 'superseded';

/** Messages a session may send before its `register` are held, up to this many, then it is closed. */
const maxHeldBeforeRegister = 10_000;

/** What the dispatcher hands back to the control plane. Called synchronously, never re-entrantly. */
export interface DispatcherHandlers {
  /** `runner` accepted the offer of `leg`, which is still `offered` to it: grant the lease now. */
  accepted(runner: RunnerSession, leg: Leg): void;
  /** A message under a lease; the receiver checks its fencing token. */
  leaseMessage(runner: RunnerSession, message: LeaseMessage): void;
  /**
   * The connection of `runner`, which has no identity, closed. Its unanswered offers are back at the
   * head of the queue already; `leased` lists the jobs it held — the receiver decides their fate.
   * (A runner with an identity keeps its leases until their TTL, until it registers again, or until
   * its credential is revoked: see `takeDetached`.)
   */
  runnerLost(runner: RunnerSession, leased: readonly string[], reason: string): void;
  /**
   * The connection of `runner`, which has an identity, closed: it keeps its leases of `leased` for a
   * reconnect (see `takeDetached`); the receiver may end some now (a job it was told to stop). Not
   * called for a session superseded by a new one of the runner: `registered` settles its leases.
   */
  runnerAway(runner: RunnerSession, leased: readonly string[]): void;
  /**
   * `runner` registered: `resume` are the leases it says it still holds, `detached` the jobs its
   * earlier, closed sessions held leases on. Called before any message it sent after `register`.
   */
  registered(runner: RunnerSession, resume: readonly ResumedLease[], detached: readonly string[]): void;
  /**
   * `runner` deregistered (it is stopping for good) and its session is closed here; `leased` lists the
   * jobs it still held leases on, which it will not report. The receiver answers `deregistered`.
   */
  deregistered(runner: RunnerSession, leased: readonly string[], reason: string): void;
}

export interface DispatcherOptions {
  readonly offerTtlMs: number;
  readonly agingIntervalMs: number;
  readonly clock: Clock;
  /** ControlPlaneOptions.storedRunnerMode. */
  readonly storedRunnerMode?: (runnerId: string) => RunnerMode | undefined;
}

interface Offer {
  readonly leg: Leg;
  readonly runner: RunnerSession;
  /** When it counts as declined (ms since the epoch, the dispatcher's clock). */
  readonly lapsesAt: number;
}

/**
 * Runner sessions and the queue of ready jobs: matches the head of the queue to runners that have the
 * labels and a free slot, sends offers, and takes the answers. An offer not answered within
 * `offerTtlMs` counts as a decline by that runner. A runner that declined a job (or let its offer
 * lapse, or lost its lease) is not offered that job again until it finishes some job.
 *
 * Only runners with a free slot in `online` mode (not draining, not in maintenance) are candidates;
 * they are found through an index by label, so an offer does not walk every connected runner. Queued
 * jobs are grouped by their runs-on label set, and a dispatch passes over a whole group when no free
 * runner has its labels: the jobs no runner can take now cost one look per label set, not one each.
 */
export class Dispatcher {
  private readonly registry: RunnerRegistry;
  /** Which session each offered or leased job takes a slot of. */
  private readonly assignee = new Map<string, RunnerSession>();
  /** Messages of sessions that have not registered yet, applied right after their `register`. */
  private readonly held = new Map<RunnerSession, RunnerMessage[]>();
  private readonly queue: JobQueue<Leg>;
  /** Wakes dispatch when the earliest delayed job becomes ready; at most one is armed. */
  private wakeUp: { readonly at: number; readonly timer: TimerHandle } | undefined;
  /**
   * Offers out, in the order they were sent. Every offer has the same TTL, so that is also the order
   * they lapse in, and one timer, armed for the first, serves them all (a timer per offer cost more
   * than the rest of sending it).
   */
  private readonly offers = new Map<string, Offer>();
  private lapseTimer: TimerHandle | undefined;
  /** Set while lapsed offers are taken back, so that offers sent meanwhile do not arm the timer. */
  private sweeping = false;
  private readonly declines = new Declines();

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
  setRunnerMode(runnerId: string, mode: RunnerMode, by: 'operator' | 'shutdown' = 'operator'): boolean {
    if (!this.registry.setMode(runnerId, mode, by === 'operator')) return false;
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
    this.assign(runner, jobId);
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
    this.dropOffer(jobId);
    const session = this.assignee.get(jobId);
    if (session !== undefined) this.unassign(session, jobId);
  }

  /** `runner` reported the end of `jobId` under its current lease: its slot is free again. */
  release(runner: RunnerSession, jobId: string): void {
    this.unassign(runner, jobId);
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
    this.unassign(runner, jobId);
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
    this.armWakeUp();
    if (!this.registry.anyFree()) return;
    if (this.takeHeads())
      for (const leg of this.queue.entries(this.noRunnerFor)) {
        const runner = this.pickRunner(leg);
        if (!runner) {
          if (!this.registry.anyFree()) break;
          continue;
        }
        this.offer(leg, runner);
      }
    this.armLapse();
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
      const runner = this.pickRunner(leg);
      if (runner === undefined) return this.registry.anyFree() && !this.noRunnerFor(leg);
      this.offer(leg, runner);
    }
    return this.queue.groupCount > 0;
  }

  private offer(leg: Leg, runner: RunnerSession): void {
    const { offerTtlMs: ttlMs, clock } = this.options;
    this.queue.remove(leg.id);
    moveLeg(leg, 'offered');
    this.assign(runner, leg.id);
    this.offers.set(leg.id, { leg, runner, lapsesAt: clock.now() + ttlMs });
    runner.transport.send({ type: 'offer', jobId: leg.id, name: leg.name, ttlMs });
  }

  /** Arms the one offer timer for the first offer out, unless it is armed or none is out. */
  private armLapse(): void {
    if (this.lapseTimer !== undefined || this.sweeping) return;
    const first = this.offers.values().next();
    if (first.done === true) return;
    const { clock } = this.options;
    this.lapseTimer = clock.setTimer(() => this.sweepLapsed(), first.value.lapsesAt - clock.now());
  }

  /**
   * Takes back every offer whose TTL has run out, oldest first, then arms the timer for the next.
   * (Should the wall clock step back, an offer sent after the step lapses no earlier than those
   * before it: late by at most the step, as a timer per offer on that clock would be too.)
   */
  private sweepLapsed(): void {
    this.lapseTimer = undefined;
    this.sweeping = true;
    try {
      const now = this.options.clock.now();
      for (const [jobId, offer] of this.offers) {
        if (offer.lapsesAt > now) break;
        this.offerLapsed(jobId);
      }
    } finally {
      // Armed again even if taking one back threw, so that the others still lapse.
      this.sweeping = false;
      this.armLapse();
    }
  }

  /** The offer of `jobId`, if one is out, is no longer; the timer goes when no offer is left. */
  private dropOffer(jobId: string): void {
    if (!this.offers.delete(jobId) || this.offers.size > 0) return;
    this.lapseTimer?.cancel();
    this.lapseTimer = undefined;
  }

  /** One timer, for the earliest delayed job: no polling, and none armed while nothing is delayed. */
  private armWakeUp(): void {
    const at = this.queue.nextReadyAt();
    if (this.wakeUp?.at === at) return;
    this.wakeUp?.timer.cancel();
    this.wakeUp = undefined;
    if (at === undefined) return;
    const { clock } = this.options;
    // Nothing else keeps the process alive while the only work left waits for its time.
    const timer = clock.setTimer(
      () => {
        if (this.wakeUp?.timer === timer) this.wakeUp = undefined;
        this.dispatch();
      },
      at - clock.now(),
      { keepAlive: true },
    );
    this.wakeUp = { at, timer };
  }

  private handle(session: RunnerSession, message: RunnerMessage): void {
    if (message.type === 'register') {
      this.register(session, message);
      return;
    }
    if (session.info === undefined) {
      this.hold(session, message);
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
    const held = this.held.get(session) ?? [];
    this.held.delete(session);
    for (const early of held) this.handle(session, early);
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

  /** A message before `register` (a client that did not wait): applied once the session registers. */
  private hold(session: RunnerSession, message: RunnerMessage): void {
    const held = this.held.get(session) ?? [];
    if (held.length >= maxHeldBeforeRegister) {
      session.transport.close(`VK_PROTOCOL: more than ${maxHeldBeforeRegister} messages before register`);
      return;
    }
    held.push(message);
    this.held.set(session, held);
  }

  private onOfferAnswer(session: RunnerSession, jobId: string, accepted: boolean): void {
    const offer = this.offers.get(jobId);
    // Lapsed, or cancelled while the offer was out (forget() freed the slot then).
    if (!offer || offer.runner !== session) return;
    this.dropOffer(jobId);
    const { leg } = offer;
    if (leg.status !== 'offered') {
      this.unassign(session, jobId);
      return;
    }
    if (!accepted) {
      this.declinedBy(session, leg);
      return;
    }
    this.declines.forgetJob(jobId);
    this.handlers.accepted(session, leg);
  }

  private offerLapsed(jobId: string): void {
    const offer = this.offers.get(jobId);
    if (!offer) return;
    this.dropOffer(jobId);
    if (offer.leg.status !== 'offered') return;
    this.declinedBy(offer.runner, offer.leg);
  }

  private declinedBy(session: RunnerSession, leg: Leg): void {
    this.unassign(session, leg.id);
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
    this.held.delete(session);
    const leased: string[] = [];
    for (const jobId of [...session.assigned]) {
      const offer = this.offers.get(jobId);
      if (offer?.runner === session) {
        this.dropOffer(jobId);
        this.unassign(session, jobId);
        if (offer.leg.status === 'offered') this.requeue(offer.leg);
      } else {
        leased.push(jobId);
        this.unassign(session, jobId);
      }
    }
    session.orphaned.clear();
    // A closed session gets no offers again (a reconnect is a new session): its declines are moot.
    this.declines.forgetSession(session.id);
    if (session.durable) {
      this.registry.detach(session, leased);
      if (how !== 'superseded') this.handlers.runnerAway(session, leased);
    } else this.handlers.runnerLost(session, leased, reason);
    if (how !== 'superseded') this.dispatch();
  }

  private assign(session: RunnerSession, jobId: string): void {
    session.assigned.add(jobId);
    this.assignee.set(jobId, session);
    this.registry.refresh(session);
  }

  private unassign(session: RunnerSession, jobId: string): void {
    session.assigned.delete(jobId);
    if (this.assignee.get(jobId) === session) this.assignee.delete(jobId);
    this.registry.refresh(session);
  }

  private pickRunner(leg: Leg): RunnerSession | undefined {
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
  private readonly noRunnerFor = (leg: Leg): boolean =>
    this.declines.decliners(leg.id) === undefined || this.registry.find(leg.runsOn) === undefined;
}
