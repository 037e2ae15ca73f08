import type { OperatorMode, RunnerMode } from '../core/runner-mode.js';

/** What a replica knows of a runner connected to it, as it writes it (RunnerStore.connected). */
export interface RunnerPresence {
  /** The runner's credential id: stable across its connections and replicas. */
  readonly id: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly capacity: number;
  /** Jobs it holds a lease on. */
  readonly running: number;
  /** The runner said it is shutting down (its own drain, not an operator's). */
  readonly draining: boolean;
  /** How it is connected, for display: `websocket`, `long-poll`. */
  readonly transport?: string;
  /** Its capabilities as it reported them (the protocol's RunnerCapabilities), kept as JSON. */
  readonly capabilities?: object;
}

/** A runner as stored: its last presence, where it was connected, and the operator's mode. */
export interface StoredRunner extends RunnerPresence {
  /** The replica it was last connected to (RunnerStore.connected's `replica`). */
  readonly replica: string;
  /** As its replica last said; a replica that died leaves it true, with `lastSeenAt` growing old. */
  readonly connected: boolean;
  /** epoch milliseconds: when its replica last wrote or touched it. */
  readonly lastSeenAt: number;
  /** epoch milliseconds: when a replica first wrote it. */
  readonly firstSeenAt: number;
  /** The operator's mode: `online` unless set with `setMode`; kept across connections and replicas. */
  readonly mode: RunnerMode;
  /** Why the operator set it aside (`setMode`'s note: "disk swap until 14:00"); absent when online. */
  readonly modeNote?: string;
  /** epoch ms: when it deregistered (`disconnected` with `stopped`); cleared when it connects again. */
  readonly stoppedAt?: number;
}

/**
 * The fleet's runners, shared by the control plane's replicas. Lifecycle: each replica writes the
 * runners connected to it (`connected`, again whenever what it knows of one changes), `touch`es them
 * every few seconds while they stay, and marks them `disconnected` when their connection closes; an
 * operator's `setMode` is stored here, and every replica polls `modes()` to apply it to the runners
 * it holds. A row goes with `prune` once its runner has not been seen for the retention, or with
 * `remove` when its runner is deregistered (its credential revoked); its mode goes with it, and a
 * runner that connects again after that is written anew. A runner that moves to another replica is that replica's from its next `connected` on:
 * the first replica's later `disconnected` or `touch` no longer reaches it. Calls are applied in the
 * order they are made; reads see every write made before them.
 */
export interface RunnerStore {
  /**
   * These runners are connected to `replica` at `at`: each row is written with `connected` true and
   * `lastSeenAt` = `at`, inserted with mode `online` when new; an existing row keeps its mode and
   * loses its `stoppedAt`.
   */
  connected(replica: string, runners: readonly RunnerPresence[], at: number): Promise<void>;
  /**
   * Marks these runners disconnected at `at`, only those whose row still names `replica`; `stopped`:
   * they deregistered (stopped on purpose), and `stoppedAt` becomes `at`.
   */
  disconnected(replica: string, ids: readonly string[], at: number, stopped?: boolean): Promise<void>;
  /**
   * A runner `replica` marked disconnected holds leases on `running` jobs now (they end with their TTL,
   * or when another runner takes the job): written only while its row still names `replica` and says
   * disconnected. Nothing else of the row changes.
   */
  awayRunning(replica: string, id: string, running: number): Promise<void>;
  /** Moves `lastSeenAt` to `at` for every runner still connected to `replica` (its heartbeat). */
  touch(replica: string, at: number): Promise<void>;
  /**
   * Stores an operator's mode with its `note`, which replaces the one before: none clears it when the
   * mode changes, and keeps it when the mode is the one the runner has already (a drain repeated
   * without --note); `online` keeps none. The row after it, or undefined (nothing written) for an
   * unknown id.
   */
  setMode(id: string, mode: RunnerMode, note?: string): Promise<StoredRunner | undefined>;
  /** The runners whose mode is not `online`, by id (the few an operator has set aside), with their notes. */
  modes(): Promise<Map<string, OperatorMode>>;
  /** Every runner written and not pruned or removed since, in the order they were first written. */
  list(): Promise<StoredRunner[]>;
  /**
   * Deletes the runners last seen before `seenBefore`, whether they are marked disconnected or their
   * replica stopped touching them; how many it deleted. Idempotent; safe from every replica at once.
   */
  prune(seenBefore: number): Promise<number>;
  /** Deletes one runner's row; false when there was none. */
  remove(id: string): Promise<boolean>;
}

/** A row of the stores' query for `modes()`. */
export interface ModeRow {
  readonly id: string;
  readonly mode: RunnerMode;
  readonly mode_note: string | null;
}

/** `modes()`'s answer, from its query's rows. */
export function operatorModes(rows: readonly ModeRow[]): Map<string, OperatorMode> {
  return new Map(
    rows.map(({ id, mode, mode_note: note }) => [id, note === null ? { mode } : { mode, note }]),
  );
}
