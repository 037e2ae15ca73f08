import type { Clock, TimerHandle } from '../core/clock.js';
import type { ControlMessage, RunnerInfo, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { JobQueue } from './job-queue.js';
import { type Leg, moveLeg } from './leg.js';

export interface RunnerSession {
  readonly id: string;
  readonly transport: Transport<ControlMessage, RunnerMessage>;
  info?: RunnerInfo;
  /** The runner's labels, lower-cased, for matching `runs-on`. */
  labels: ReadonlySet<string>;
  /** Jobs offered to it or leased to it: each takes one of its slots. */
  readonly assigned: Set<string>;
  /**
   * Jobs whose lease it lost (expired) while it may still be running them, with the lost lease's
   * fencing token. Each keeps its slot taken until the runner reports the job ended, or disconnects.
   */
  readonly orphaned: Map<string, number>;
}

/** The runner messages that are written under a lease, i.e. carry a fencing token. */
export type LeaseMessage = Extract<RunnerMessage, { readonly fencingToken: number }>;

/** What the dispatcher hands back to the control plane. Called synchronously, never re-entrantly. */
export interface DispatcherHandlers {
  /** `runner` accepted the offer of `leg`, which is still `offered` to it: grant the lease now. */
  accepted(runner: RunnerSession, leg: Leg): void;
  /** A message under a lease; the receiver checks its fencing token. */
  leaseMessage(runner: RunnerSession, message: LeaseMessage): void;
  /**
   * `runner`'s connection closed. Its unanswered offers are back at the head of the queue already;
   * `leased` lists the jobs it held (or was offered and accepted) — the receiver decides their fate.
   */
  runnerLost(runner: RunnerSession, leased: readonly string[], reason: string): void;
}

export interface DispatcherOptions {
  readonly offerTtlMs: number;
  readonly agingIntervalMs: number;
  readonly clock: Clock;
}

interface Offer {
  readonly leg: Leg;
  readonly runner: RunnerSession;
  readonly timer: TimerHandle;
}

/**
 * Runner sessions and the queue of ready jobs: matches the head of the queue to runners that have the
 * labels and a free slot, sends offers, and takes the answers. An offer not answered within
 * `offerTtlMs` counts as a decline by that runner. A runner that declined a job (or let its offer
 * lapse, or lost its lease) is not offered that job again until it finishes some job.
 */
export class Dispatcher {
  private readonly sessions = new Map<string, RunnerSession>();
  private readonly queue: JobQueue<Leg>;
  /** Wakes dispatch when the earliest delayed job becomes ready; at most one is armed. */
  private wakeUp: { readonly at: number; readonly timer: TimerHandle } | undefined;
  private readonly offers = new Map<string, Offer>();
  private readonly declined = new Map<string, Set<string>>();
  private nextSession = 1;

  constructor(
    private readonly handlers: DispatcherHandlers,
    private readonly options: DispatcherOptions,
  ) {
    const { agingIntervalMs, clock } = options;
    this.queue = new JobQueue<Leg>({ agingIntervalMs, now: () => clock.now() });
  }

  connect(transport: Transport<ControlMessage, RunnerMessage>): RunnerSession {
    const session: RunnerSession = {
      id: `runner-${this.nextSession++}`,
      transport,
      assigned: new Set(),
      orphaned: new Map(),
      labels: new Set(),
    };
    this.sessions.set(session.id, session);
    transport.onMessage((message) => this.handle(session, message));
    transport.onClose((reason) => this.onClose(session, reason));
    return session;
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
    this.declined.delete(jobId);
    this.offers.get(jobId)?.timer.cancel();
    this.offers.delete(jobId);
    for (const session of this.sessions.values()) session.assigned.delete(jobId);
  }

  /** `runner` reported the end of `jobId` under its current lease: its slot is free again. */
  release(runner: RunnerSession, jobId: string): void {
    runner.assigned.delete(jobId);
    this.roomMadeBy(runner);
  }

  /** `runner` reported the end of a job whose lease it had lost: the slot that kept is free again. */
  releaseOrphan(runner: RunnerSession, jobId: string, fencingToken: number): void {
    if (runner.orphaned.get(jobId) !== fencingToken) return;
    runner.orphaned.delete(jobId);
    this.roomMadeBy(runner);
    this.dispatch();
  }

  /**
   * `runner` lost its lease on `jobId` but may still be running it: its slot stays taken, and the job
   * is not offered back to it.
   */
  orphan(runner: RunnerSession, jobId: string, fencingToken: number): void {
    if (!runner.assigned.delete(jobId)) return;
    runner.orphaned.set(jobId, fencingToken);
    this.avoid(jobId, runner);
  }

  /**
   * Offers queued jobs, in order, to runners with the labels and a free slot. Stops as soon as no
   * runner has a free slot, so a long queue costs nothing while the runners are busy.
   */
  dispatch(): void {
    this.armWakeUp();
    if (!this.anyFreeSlot()) return;
    for (const leg of this.queue.entries()) {
      const runner = this.pickRunner(leg);
      if (!runner) {
        if (!this.anyFreeSlot()) return;
        continue;
      }
      this.queue.remove(leg.id);
      moveLeg(leg, 'offered');
      runner.assigned.add(leg.id);
      const ttlMs = this.options.offerTtlMs;
      const timer = this.options.clock.setTimer(() => this.offerLapsed(leg.id), ttlMs);
      this.offers.set(leg.id, { leg, runner, timer });
      runner.transport.send({ type: 'offer', jobId: leg.id, name: leg.name, ttlMs });
    }
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
    switch (message.type) {
      case 'register':
        session.info = message.runner;
        session.labels = new Set(message.runner.labels.map((label) => label.toLowerCase()));
        session.transport.send({ type: 'registered', runnerId: session.id });
        this.dispatch();
        return;
      case 'accept':
      case 'decline':
        this.onOfferAnswer(session, message.jobId, message.type === 'accept');
        return;
      default:
        this.handlers.leaseMessage(session, message);
    }
  }

  private onOfferAnswer(session: RunnerSession, jobId: string, accepted: boolean): void {
    const offer = this.offers.get(jobId);
    // Lapsed, or cancelled while the offer was out (forget() freed the slot then).
    if (!offer || offer.runner !== session) return;
    offer.timer.cancel();
    this.offers.delete(jobId);
    const { leg } = offer;
    if (leg.status !== 'offered') {
      session.assigned.delete(jobId);
      return;
    }
    if (!accepted) {
      this.declinedBy(session, leg);
      return;
    }
    this.declined.delete(jobId);
    this.handlers.accepted(session, leg);
  }

  private offerLapsed(jobId: string): void {
    const offer = this.offers.get(jobId);
    if (!offer) return;
    this.offers.delete(jobId);
    if (offer.leg.status !== 'offered') return;
    this.declinedBy(offer.runner, offer.leg);
  }

  private declinedBy(session: RunnerSession, leg: Leg): void {
    session.assigned.delete(leg.id);
    this.avoid(leg.id, session);
    this.requeue(leg);
    this.dispatch();
  }

  /** A runner that declined for want of room may have room now. */
  private roomMadeBy(runner: RunnerSession): void {
    for (const decliners of this.declined.values()) decliners.delete(runner.id);
  }

  private avoid(jobId: string, session: RunnerSession): void {
    const decliners = this.declined.get(jobId) ?? new Set<string>();
    decliners.add(session.id);
    this.declined.set(jobId, decliners);
  }

  private onClose(session: RunnerSession, reason: string): void {
    this.sessions.delete(session.id);
    const leased: string[] = [];
    for (const jobId of session.assigned) {
      const offer = this.offers.get(jobId);
      if (offer?.runner === session) {
        offer.timer.cancel();
        this.offers.delete(jobId);
        if (offer.leg.status === 'offered') this.requeue(offer.leg);
      } else {
        leased.push(jobId);
      }
    }
    session.assigned.clear();
    session.orphaned.clear();
    this.handlers.runnerLost(session, leased, reason);
    this.dispatch();
  }

  private anyFreeSlot(): boolean {
    for (const session of this.sessions.values()) if (hasFreeSlot(session)) return true;
    return false;
  }

  private pickRunner(leg: Leg): RunnerSession | undefined {
    const decliners = this.declined.get(leg.id);
    for (const session of this.sessions.values()) {
      if (!hasFreeSlot(session) || decliners?.has(session.id)) continue;
      if (leg.runsOn.every((label) => session.labels.has(label.toLowerCase()))) return session;
    }
    return undefined;
  }
}

function hasFreeSlot(session: RunnerSession): boolean {
  const info = session.info;
  return info !== undefined && session.assigned.size + session.orphaned.size < info.capacity;
}
