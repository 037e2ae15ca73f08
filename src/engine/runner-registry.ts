import type { OperatorMode } from '../core/runner-mode.js';
import type { ControlMessage, RunnerCapabilities, RunnerInfo, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { FreeRunnerIndex } from '../selection/free-runners.js';
import { labelSetName } from '../selection/label-set.js';
import type { JobRunner } from '../store/runs.js';
import type { RunnerIdentity, RunnerMode, RunnerView } from './runner-view.js';

/** One connection of a runner; a runner with an identity may have a new one after a transport switch. */
export interface RunnerSession {
  /** Unique per connection. */
  readonly id: string;
  /** The runner's id: its identity's, or the connection's own when it has none. */
  readonly runnerId: string;
  /** Whether it has an identity: then its leases outlive the connection until their TTL. */
  readonly durable: boolean;
  readonly transport: Transport<ControlMessage, RunnerMessage>;
  readonly transportKind?: string;
  info?: RunnerInfo;
  capabilities?: RunnerCapabilities;
  /** The runner's labels, lower-cased, for matching `runs-on`. */
  labels: ReadonlySet<string>;
  /** Jobs offered to it or leased to it: each takes one of its slots. */
  readonly assigned: Set<string>;
  /**
   * Jobs whose lease it lost (expired) while it may still be running them, with the lost lease's
   * fencing token. Each keeps its slot taken until the runner reports the job ended, or disconnects.
   */
  readonly orphaned: Map<string, number>;
  /** The runner said it is shutting down (`drain`). */
  draining: boolean;
  /** Its `register` said it takes `mode` messages (an operator's mode change while it is connected). */
  modeMessages?: boolean;
  /** Its `register` said it takes `completions.stored` messages (CompletionAcks). */
  completionsStored?: boolean;
  closed: boolean;
  /**
   * When its connection closed here (the caller's clock). Absent while open, and for a session that
   * stands for a runner not connected here since this process started (awaySession).
   */
  closedAt?: number;
  /** What startedOn made for its current registration. */
  startedOn?: StartedOn;
}

/** A fleet runner as the jobs leased on it are stored started on, and the line naming it in their logs. */
export interface StartedOn {
  readonly runner: JobRunner;
  readonly line: string;
  /** The registration it was made for. */
  readonly info: RunnerInfo | undefined;
}

/**
 * What a job leased on `session` starts on: undefined for a runner without an identity (the local
 * mode's is always this process). Made once per registration and shared by its jobs, not an object and
 * a string for every lease (the runner's name comes with its `register`).
 */
export function startedOn(session: RunnerSession): StartedOn | undefined {
  if (!session.durable) return undefined;
  const { info, runnerId } = session;
  if (session.startedOn?.info === info) return session.startedOn;
  const runner = { id: runnerId, name: info?.name ?? runnerId };
  session.startedOn = { runner, line: `running on runner ${runner.name} (${runner.id})`, info };
  return session.startedOn;
}

interface RunnerRecord {
  mode: RunnerMode;
  /** The operator's note with `mode` (OperatorMode.note). */
  note: string | undefined;
  /** The latest registered session; kept after it closes for a runner with an identity. */
  session: RunnerSession;
  /** Jobs its closed session held leases on, until it registers again. */
  detached: string[];
  /** When its latest session closed (the caller's clock); undefined while that session is open. */
  closedAt?: number;
  /** Set when its latest session closed because the runner deregistered (it stopped, was not lost). */
  stoppedAt?: number;
}

/** Whether a job with some `runs-on` labels can be offered to a connected runner: RunnerRegistry.availabilityFor. */
export type RunnerAvailability = 'online' | 'set_aside' | 'none';

/** The connection of a session that stands for a runner not connected here: what is sent on it is dropped. */
const absentTransport: Transport<ControlMessage, RunnerMessage> = Object.freeze({
  send: () => {},
  onMessage: () => {},
  onClose: () => {},
  close: () => {},
  reject: () => {},
});

/**
 * The runners the control plane knows: their sessions, operator modes, and the index of those with
 * a free slot. Runners with an identity stay listed (disconnected) after their connection closes.
 * Call `refresh` after anything that changes a session's free slots.
 */
export class RunnerRegistry {
  private readonly records = new Map<string, RunnerRecord>();
  private readonly free = new FreeRunnerIndex<RunnerSession>();
  /** `availabilityFor` each label set, by the set's name; emptied as runners come, go, drain or change mode. */
  private readonly connectedWith = new Map<string, RunnerAvailability>();
  private nextSession = 1;

  /** `storedMode`: the operator's mode kept outside this process, applied at each register. */
  constructor(private readonly storedMode?: (runnerId: string) => OperatorMode | undefined) {}

  open(transport: Transport<ControlMessage, RunnerMessage>, identity?: RunnerIdentity): RunnerSession {
    const id = `runner-${this.nextSession++}`;
    return {
      id,
      runnerId: identity?.runnerId ?? id,
      durable: identity !== undefined,
      transport,
      ...(identity?.transport === undefined ? {} : { transportKind: identity.transport }),
      assigned: new Set(),
      orphaned: new Map(),
      labels: new Set(),
      draining: false,
      closed: false,
    };
  }

  /**
   * `session` registered (again). Returns the runner's previous session when that one is still open:
   * it is superseded, and the caller closes it.
   */
  register(
    session: RunnerSession,
    {
      runner: info,
      capabilities,
      modeMessages,
      completionsStored,
    }: Extract<RunnerMessage, { type: 'register' }>,
  ): RunnerSession | undefined {
    this.free.delete(session);
    this.connectedWith.clear();
    session.info = info;
    if (modeMessages) session.modeMessages = true;
    if (completionsStored) session.completionsStored = true;
    session.labels = new Set(info.labels.map((label) => label.toLowerCase()));
    if (capabilities !== undefined) session.capabilities = capabilities;
    const record = this.records.get(session.runnerId);
    const stored = session.durable ? this.storedMode?.(session.runnerId) : undefined;
    let superseded: RunnerSession | undefined;
    if (record === undefined) {
      const { mode, note } = stored ?? { mode: 'online' };
      this.records.set(session.runnerId, { mode, note, session, detached: [] });
    } else {
      if (record.session !== session && !record.session.closed) superseded = record.session;
      record.session = session;
      record.closedAt = undefined;
      record.stoppedAt = undefined;
      if (stored !== undefined) {
        record.mode = stored.mode;
        record.note = stored.note;
      }
    }
    this.refresh(session);
    return superseded;
  }

  /**
   * The session's connection closed at `now`: it gets no more offers. A runner without identity is
   * forgotten; one with an identity stays listed, disconnected, until `forgetClosedBefore`, and
   * `stopped` when it deregistered before it closed.
   */
  closed(session: RunnerSession, now: number, stopped = false): void {
    session.closed = true;
    session.closedAt = now;
    this.connectedWith.clear();
    this.free.delete(session);
    const record = this.records.get(session.runnerId);
    if (record?.session !== session) return;
    if (session.durable) {
      record.closedAt = now;
      if (stopped) record.stoppedAt = now;
    } else this.records.delete(session.runnerId);
  }

  /**
   * Forgets the runners whose latest session closed before `time`, with their modes and detached
   * jobs: a server that sees many runners come and go (autoscaled, ephemeral) would otherwise keep
   * every one it ever saw. The detached jobs' leases expired long before, and a runner that comes
   * back registers anew.
   */
  forgetClosedBefore(time: number): void {
    for (const [runnerId, record] of this.records)
      if (record.closedAt !== undefined && record.closedAt < time) this.records.delete(runnerId);
  }

  /**
   * The session to keep a job of runner `runnerId` on while the runner is away: a lease an earlier
   * control plane granted it (a restart, a takeover), which it may come back to resume. The job is
   * detached from that session, as a job of a session whose connection closed is: the runner's last
   * closed session here, or else a new one, closed from `now`, listed nowhere until the runner
   * registers (it has no name yet). Undefined when the runner is connected here: it registered
   * without the job's lease, so it does not run the job under it.
   */
  awaySession(runnerId: string, jobId: string, now: number): RunnerSession | undefined {
    const record = this.records.get(runnerId);
    if (record !== undefined) {
      if (!record.session.closed) return undefined;
      record.detached.push(jobId);
      return record.session;
    }
    const session = this.open(absentTransport, { runnerId });
    session.closed = true;
    this.records.set(runnerId, {
      mode: 'online',
      note: undefined,
      session,
      detached: [jobId],
      closedAt: now,
    });
    return session;
  }

  /** Keeps the jobs a closed session of a runner with identity held leases on, for its next register. */
  detach(session: RunnerSession, leased: readonly string[]): void {
    const record = this.records.get(session.runnerId);
    if (record !== undefined) record.detached.push(...leased);
  }

  /** The runners with jobs detached from their closed sessions, with those jobs. */
  detachedJobs(): [runnerId: string, jobIds: readonly string[]][] {
    const detached: [string, readonly string[]][] = [];
    for (const [runnerId, record] of this.records)
      if (record.detached.length > 0) detached.push([runnerId, record.detached]);
    return detached;
  }

  /** The jobs detached from the runner's earlier sessions; the list is emptied. */
  takeDetached(runnerId: string): string[] {
    const record = this.records.get(runnerId);
    if (record === undefined) return [];
    const detached = record.detached;
    record.detached = [];
    return detached;
  }

  /** Puts the session in the free index, or takes it out, as its slots and mode say. */
  refresh(session: RunnerSession): void {
    const info = session.info;
    const mode = this.records.get(session.runnerId)?.mode ?? 'online';
    const free =
      !session.closed &&
      !session.draining &&
      mode === 'online' &&
      info !== undefined &&
      session.assigned.size + session.orphaned.size < info.capacity;
    if (free) this.free.add(session);
    else this.free.delete(session);
  }

  /** The answer to `session`'s register: with the operator's mode of its runner (and note) unless `online`. */
  registered(session: RunnerSession): ControlMessage {
    const record = this.records.get(session.runnerId);
    const mode = record?.mode ?? 'online';
    const { runnerId } = session;
    // logStored: this control plane acknowledges numbered lines and drops those it holds (lease-reports.ts).
    if (mode === 'online') return { type: 'registered', runnerId, logStored: true };
    const note = record?.note;
    return note === undefined
      ? { type: 'registered', runnerId, mode, logStored: true }
      : { type: 'registered', runnerId, mode, note, logStored: true };
  }

  /**
   * False when no runner of that id is known. `tell`: the runner's open session, when it takes `mode`
   * messages and the mode or its note changed, is sent one. `note`: the operator's (an `online` runner
   * keeps none).
   */
  setMode(runnerId: string, mode: RunnerMode, tell = false, note?: string): boolean {
    const record = this.records.get(runnerId);
    if (record === undefined) return false;
    const { session } = record;
    const kept = mode === 'online' ? undefined : note;
    const changed = record.mode !== mode || record.note !== kept;
    if (tell && changed && session.modeMessages === true && !session.closed)
      session.transport.send(
        kept === undefined ? { type: 'mode', mode } : { type: 'mode', mode, note: kept },
      );
    record.mode = mode;
    record.note = kept;
    this.connectedWith.clear();
    this.refresh(record.session);
    return true;
  }

  /** Whether `session` is a candidate for an offer now: open, `online`, not draining, with a free slot. */
  isFree(session: RunnerSession): boolean {
    return this.free.has(session);
  }

  anyFree(): boolean {
    return this.free.size > 0;
  }

  /** A free runner with every label of `runsOn` (any case) that is not excluded. */
  find(runsOn: readonly string[], excluded?: (session: RunnerSession) => boolean): RunnerSession | undefined {
    return this.free.find(
      runsOn.map((label) => label.toLowerCase()),
      excluded,
    );
  }

  /** The runner said it is shutting down: it gets no more offers, and no longer counts for its labels. */
  drained(session: RunnerSession): void {
    session.draining = true;
    this.connectedWith.clear();
    this.refresh(session);
  }

  /**
   * Who could take a job with every label of `runsOn` (any case): `online` when a connected runner
   * with them is online, busy or not (the job waits for a slot); `set_aside` when the only connected
   * ones are drained or in maintenance by an operator (they take it once resumed); `none` when none
   * is connected, or the only ones are shutting down (a runner's own drain: it stops after its
   * jobs) — stopped and offline runners are not connected. Looked up once per label set while no
   * runner comes, goes, drains or changes mode.
   */
  availabilityFor(runsOn: readonly string[]): RunnerAvailability {
    const name = labelSetName(runsOn);
    let found = this.connectedWith.get(name);
    if (found === undefined) {
      const labels = runsOn.map((label) => label.toLowerCase());
      found = 'none';
      for (const { session, mode } of this.records.values()) {
        if (session.closed || session.draining || !labels.every((label) => session.labels.has(label)))
          continue;
        found = mode === 'online' ? 'online' : 'set_aside';
        if (found === 'online') break;
      }
      this.connectedWith.set(name, found);
    }
    return found;
  }

  /**
   * `running` counts a session's leased jobs; offers still out are not running. A runner whose session
   * closed counts the jobs it held then whose leases it still holds (`stillHeld`, by job and runner id):
   * not one whose lease expired or was lost since, and went elsewhere.
   */
  views(
    running: (session: RunnerSession) => number,
    stillHeld: (jobId: string, runnerId: string) => boolean,
  ): RunnerView[] {
    const views: RunnerView[] = [];
    for (const [id, { mode, session, detached, stoppedAt }] of this.records) {
      const { info, capabilities, transportKind } = session;
      if (info === undefined) continue;
      // Its own drain is its session's: one that stopped or was lost comes back in its operator's mode.
      const selfDrained = mode === 'online' && session.draining && !session.closed;
      views.push({
        id,
        name: info.name,
        labels: info.labels,
        capacity: info.capacity,
        running: session.closed ? detached.filter((jobId) => stillHeld(jobId, id)).length : running(session),
        mode: selfDrained ? 'draining' : mode,
        connected: !session.closed,
        ...(stoppedAt === undefined ? {} : { stoppedAt }),
        ...(transportKind === undefined ? {} : { transport: transportKind }),
        ...(capabilities === undefined ? {} : { capabilities }),
      });
    }
    return views;
  }
}
