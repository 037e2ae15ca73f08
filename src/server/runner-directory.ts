import type { Clock } from '../core/clock.js';
import { PeriodicTask } from '../core/periodic-task.js';
import { type OperatorMode, type RunnerMode, sameOperatorMode } from '../core/runner-mode.js';
import { controlPlaneDefaults } from '../engine/control-plane-options.js';
import type { RunnerView } from '../engine/runner-view.js';
import { runnerCapabilitiesSchema } from '../protocol/schemas.js';
import type { RunnerPresence, RunnerStore, StoredRunner } from '../store/runners.js';

/** A runner no operator set aside. */
const online: OperatorMode = { mode: 'online' };

/** A runner as the API lists it: the control plane's view, plus where it is connected and when seen. */
export interface FleetRunnerView extends RunnerView {
  /** The replica it is (or was last) connected to. */
  readonly replica?: string;
  /** epoch milliseconds: when its replica last said it was there. */
  readonly lastSeenAt?: number;
  /** Why the operator set it aside (StoredRunner.modeNote). */
  readonly modeNote?: string;
}

/** What the directory needs of the control plane: its runners, applying a mode to one, forgetting. */
export interface LocalRunners {
  runners(): RunnerView[];
  setRunnerMode(runnerId: string, mode: RunnerMode, by?: 'operator', note?: string): boolean;
  /** Forgets the runners that disconnected before `closedBefore` (epoch ms). */
  forgetRunners(closedBefore: number): void;
  /** The runners not connected here whose leases here are still current (they may come back to resume them). */
  runnersWithDetachedLeases(): readonly string[];
  /** Runner `runnerId`, not connected here, is connected to `replica`: the jobs it holds leases on here are lost. */
  runnerConnectedElsewhere(runnerId: string, replica: string): void;
}

/**
 * The fleet's runner list, kept in the store (RunnerStore) so that every replica lists every runner
 * and an operator's mode reaches a runner wherever it is connected. Every `intervalMs` it applies the
 * stored modes to the runners connected here, writes those whose presence changed, marks those that
 * left disconnected, and touches the rest (this replica's heartbeat). A runner whose replica has not
 * touched it for `staleAfterMs` (the replica died) is listed disconnected, that is offline, as is one
 * that left, until it has not been seen for `retentionMs`: then a poll prunes it from the store (at
 * most once every `pruneEveryMs`; every replica does, which is harmless). Calls are serialised, so a
 * poll never reverts a mode set meanwhile. Lifecycle: `start()` once, `stop()` (idempotent) before
 * the store closes; it marks this replica's runners disconnected, running nothing (its leases end with
 * it).
 */
export class RunnerDirectory {
  private readonly polls: PeriodicTask;
  private readonly staleAfterMs: number;
  /** The stored modes other than `online`, with their notes; undefined until the first poll read them. */
  private stored: Map<string, OperatorMode> | undefined;
  /** The operator mode (and note) last applied to each runner connected here. */
  private readonly applied = new Map<string, OperatorMode>();
  /** What was last written of each runner connected here. */
  private written = new Map<string, RunnerPresence>();
  /**
   * The job counts last written of runners that left this replica holding leases: written again as
   * their leases end (RunnerStore.awayRunning), so that every replica lists them running nothing.
   */
  private readonly away = new Map<string, number>();
  /**
   * When a poll first found each runner away from here holding leases here: a row of another replica
   * that names it connected counts only when written after that (releaseMovedAway), never one left by
   * the replica it was on before, that died.
   */
  private readonly awaySince = new Map<string, number>();
  private touchedAt = Number.NEGATIVE_INFINITY;
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly pruneEveryMs: number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RunnerStore,
    private readonly local: () => LocalRunners,
    /** This replica's name in the store: unique among the processes on it. */
    readonly replica: string,
    private readonly clock: Clock,
    intervalMs: number,
    /** Longer than `staleAfterMs` (the server's option is at least a minute), or live runners would go. */
    private readonly retentionMs: number,
    private readonly logError: (error: unknown) => void,
    /** The replicas' lease TTL (the control plane's `leaseTtlMs`): how long a runner that left holds a lease. */
    private readonly leaseTtlMs: number = controlPlaneDefaults.leaseTtlMs,
  ) {
    this.staleAfterMs = Math.max(6_000, 3 * intervalMs);
    if (!(retentionMs > this.staleAfterMs))
      throw new RangeError(`a runner retention of ${retentionMs} ms would prune runners still connected`);
    // Pruning is a chore, not a deadline: a row a few minutes past its retention harms nobody.
    this.pruneEveryMs = Math.min(60_000, retentionMs / 4);
    this.polls = new PeriodicTask(() => this.sync(), intervalMs, logError);
  }

  start(): void {
    this.polls.start(true);
  }

  async stop(): Promise<void> {
    if (this.polls.isStopped) return;
    await this.polls.stop();
    await this.serially(async () => {
      await this.store.disconnected(this.replica, [...this.written.keys()], this.clock.now());
      // The leases its runners held here, connected or away, were this process's: they end with it.
      const holding = [...this.written].filter(([, presence]) => presence.running > 0).map(([id]) => id);
      for (const id of new Set([...holding, ...this.away.keys()]))
        await this.store.awayRunning(this.replica, id, 0);
      this.away.clear();
    });
  }

  /** The stored mode of a runner and its note, for the control plane to apply when it registers here. */
  modeOf(runnerId: string): OperatorMode | undefined {
    return this.stored === undefined ? undefined : (this.stored.get(runnerId) ?? online);
  }

  /**
   * Reads the stored modes again, so that a runner about to register here gets a mode set on another
   * replica since the last poll (the server calls it when it accepts a runner's connection).
   */
  refreshModes(): Promise<void> {
    return this.serially(async () => {
      this.stored = await this.store.modes();
    });
  }

  /** One poll now: applies stored modes and writes this replica's runners. */
  sync(): Promise<void> {
    return this.serially(() => this.syncNow());
  }

  /**
   * Stores an operator's mode and applies it here when the runner is connected here; other replicas
   * apply it at their next poll. Undefined when no replica has written the runner.
   */
  setMode(runnerId: string, mode: RunnerMode, note?: string): Promise<FleetRunnerView | undefined> {
    return this.serially(async () => {
      let row = await this.store.setMode(runnerId, mode, note);
      if (
        row === undefined &&
        this.local()
          .runners()
          .some((view) => view.id === runnerId)
      ) {
        // Registered here since the last poll: write it now rather than answer 404.
        await this.syncNow();
        row = await this.store.setMode(runnerId, mode, note);
      }
      if (row === undefined) return undefined;
      const set: OperatorMode = row.modeNote === undefined ? { mode } : { mode, note: row.modeNote };
      if (mode === 'online') this.stored?.delete(runnerId);
      else this.stored?.set(runnerId, set);
      if (this.local().setRunnerMode(runnerId, mode, 'operator', set.note)) this.applied.set(runnerId, set);
      return (await this.listNow()).find((view) => view.id === runnerId);
    });
  }

  /**
   * Removes a runner whose credential was revoked from the fleet's list. Serialised with the polls: a
   * poll that saw the runner connected before its sessions ended here would otherwise write its row
   * back after the removal, and it would be listed offline until its retention ran out.
   */
  forget(runnerId: string): Promise<void> {
    return this.serially(async () => {
      this.written.delete(runnerId);
      this.away.delete(runnerId);
      this.applied.delete(runnerId);
      await this.store.remove(runnerId);
    });
  }

  /**
   * Runner `runnerId`, connected here, deregistered: writes it as stopped now, not at the next poll,
   * so that every replica lists it so by the time the runner hears back. One that registered since the
   * last poll is written first. A failed write is logged; the next poll still marks it disconnected.
   */
  stopped(runnerId: string): Promise<void> {
    return this.serially(async () => {
      const view = this.local()
        .runners()
        .find((runner) => runner.id === runnerId);
      const now = this.clock.now();
      if (view !== undefined && !this.written.has(runnerId))
        await this.store.connected(
          this.replica,
          [presenceOf(view, this.applied.get(runnerId)?.mode ?? 'online')],
          now,
        );
      await this.store.disconnected(this.replica, [runnerId], now, true);
      this.written.delete(runnerId);
      this.applied.delete(runnerId);
    }).catch(this.logError);
  }

  /** Every runner of the fleet, in the order first seen; those connected here as this process sees them. */
  list(): Promise<FleetRunnerView[]> {
    return this.listNow();
  }

  private async listNow(): Promise<FleetRunnerView[]> {
    const rows = await this.store.list();
    const now = this.clock.now();
    const local = new Map(
      this.local()
        .runners()
        .map((view) => [view.id, view]),
    );
    const views = rows.map((row): FleetRunnerView => {
      const mine = local.get(row.id);
      local.delete(row.id);
      if (mine === undefined || (!mine.connected && row.replica !== this.replica))
        return this.storedView(row, now);
      const note = row.modeNote === undefined ? {} : { modeNote: row.modeNote };
      const seen = mine.connected
        ? { replica: this.replica, lastSeenAt: now }
        : { replica: row.replica, lastSeenAt: row.lastSeenAt };
      return { ...mine, ...seen, ...note };
    });
    // Not stored yet (it registered since the last poll), or pruned or removed since it left: the
    // store is the list of runners that are gone, so only a connected one is listed from here.
    for (const mine of local.values())
      if (mine.connected) views.push({ ...mine, replica: this.replica, lastSeenAt: now });
    return views;
  }

  private storedView(row: StoredRunner, now: number): FleetRunnerView {
    const capabilities = runnerCapabilitiesSchema.safeParse(row.capabilities);
    const connected = row.connected && now - row.lastSeenAt <= this.staleAfterMs;
    // Its replica died (it stopped touching the row): the leases the runner held there went with it.
    // One that left holds none once a lease TTL has passed, also when its replica died before it
    // wrote the lower count (staleAfterMs covers the replicas' clocks and the write's poll).
    const holdsNone =
      (row.connected && !connected) ||
      (!row.connected && now - row.lastSeenAt > this.leaseTtlMs + this.staleAfterMs);
    return {
      id: row.id,
      name: row.name,
      labels: row.labels,
      capacity: row.capacity,
      running: holdsNone ? 0 : row.running,
      // A runner's own drain is its session's: one that stopped or was lost comes back in its operator's mode.
      mode: row.mode === 'online' && row.draining && connected ? 'draining' : row.mode,
      ...(row.modeNote === undefined ? {} : { modeNote: row.modeNote }),
      connected,
      ...(row.stoppedAt === undefined ? {} : { stoppedAt: row.stoppedAt }),
      ...(row.transport === undefined ? {} : { transport: row.transport }),
      ...(capabilities.success ? { capabilities: capabilities.data } : {}),
      replica: row.replica,
      lastSeenAt: row.lastSeenAt,
    };
  }

  private async syncNow(): Promise<void> {
    this.stored = await this.store.modes();
    const local = this.local();
    let views = local.runners();
    let applied = false;
    for (const view of views) {
      if (!view.connected) continue;
      const mode = this.stored.get(view.id) ?? online;
      if (sameOperatorMode(this.applied.get(view.id), mode)) continue;
      local.setRunnerMode(view.id, mode.mode, 'operator', mode.note);
      this.applied.set(view.id, mode);
      applied = true;
    }
    if (applied) views = local.runners();
    const present = new Map<string, RunnerPresence>();
    const changed: RunnerPresence[] = [];
    for (const view of views) {
      if (!view.connected) continue;
      const presence = presenceOf(view, this.applied.get(view.id)?.mode ?? 'online');
      present.set(view.id, presence);
      const written = this.written.get(view.id);
      if (written === undefined || !samePresence(written, presence)) changed.push(presence);
    }
    const gone = [...this.written.keys()].filter((id) => !present.has(id));
    const now = this.clock.now();
    await this.store.connected(this.replica, changed, now);
    await this.store.disconnected(this.replica, gone, now);
    // A third of the time after which a runner counts as gone: one late touch does not make it so.
    if (now - this.touchedAt >= this.staleAfterMs / 3) {
      await this.store.touch(this.replica, now);
      this.touchedAt = now;
    }
    if (now - this.prunedAt >= this.pruneEveryMs) {
      // The control plane forgets them too: they are listed from the store, which no longer has them.
      local.forgetRunners(now - this.retentionMs);
      await this.store.prune(now - this.retentionMs);
      this.prunedAt = now;
    }
    for (const id of gone) {
      const running = this.written.get(id)?.running ?? 0;
      if (running > 0) this.away.set(id, running);
    }
    await this.writeAwayRunning(views);
    this.written = present;
    for (const id of gone) this.applied.delete(id);
    await this.releaseMovedAway(now);
  }

  /**
   * A runner away from here holding leases here — it left, or a takeover holds its jobs' leases for it
   * — that another replica lists connected since: that replica does not drive those jobs' runs and
   * refused the runner's resume of them, so the runner stopped them (a load balancer sends a runner's
   * reconnect to any replica). They follow their `on-runner-lost:` now, not a lease TTL later.
   */
  private async releaseMovedAway(now: number): Promise<void> {
    const away = new Set(this.local().runnersWithDetachedLeases());
    for (const id of this.awaySince.keys()) if (!away.has(id)) this.awaySince.delete(id);
    if (away.size === 0) return;
    for (const id of away) if (!this.awaySince.has(id)) this.awaySince.set(id, now);
    for (const row of await this.store.list()) {
      const since = this.awaySince.get(row.id);
      if (since === undefined || !row.connected || row.replica === this.replica) continue;
      if (row.lastSeenAt <= since || now - row.lastSeenAt > this.staleAfterMs) continue;
      this.local().runnerConnectedElsewhere(row.id, row.replica);
      this.awaySince.delete(row.id);
    }
  }

  /** Writes the job counts of runners away from here that changed since last written (their leases ended). */
  private async writeAwayRunning(views: readonly RunnerView[]): Promise<void> {
    if (this.away.size === 0) return;
    const byId = new Map(views.map((view) => [view.id, view]));
    for (const [id, written] of this.away) {
      const view = byId.get(id);
      if (view === undefined || view.connected) {
        this.away.delete(id);
        continue;
      }
      if (view.running === written) continue;
      await this.store.awayRunning(this.replica, id, view.running);
      if (view.running === 0) this.away.delete(id);
      else this.away.set(id, view.running);
    }
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/** `operatorMode` tells a runner's own drain (shown as `draining` while the operator's mode is online). */
function presenceOf(view: RunnerView, operatorMode: RunnerMode): RunnerPresence {
  return {
    id: view.id,
    name: view.name,
    labels: view.labels,
    capacity: view.capacity,
    running: view.running,
    draining: view.mode === 'draining' && operatorMode === 'online',
    ...(view.transport === undefined ? {} : { transport: view.transport }),
    ...(view.capabilities === undefined ? {} : { capabilities: view.capabilities }),
  };
}

/**
 * Labels and capabilities are compared by reference: a runner's are replaced whole when it sends new
 * ones, and comparing them by value every poll would cost more than writing a runner now and then.
 */
function samePresence(a: RunnerPresence, b: RunnerPresence): boolean {
  return (
    a.name === b.name &&
    a.labels === b.labels &&
    a.capacity === b.capacity &&
    a.running === b.running &&
    a.draining === b.draining &&
    a.transport === b.transport &&
    a.capabilities === b.capabilities
  );
}
