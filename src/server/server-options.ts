import type { Clock } from '../core/clock.js';
import type { ControlPlaneOptions } from '../engine/control-plane.js';
import type { Stores } from '../store/store.js';
import type { ServerStoreLock } from './store-lock.js';

/** What `ValkyrieServer.start` takes (server.ts), and the defaults of those that have one. */
export interface ServerOptions {
  /** Owned from here on: the server closes them last. */
  readonly stores: Stores;
  readonly host: string;
  /** 0 picks a free port (see `url`). */
  readonly port: number;
  /** Bundles live in `<dataDir>/bundles/` unless the store keeps them (`stores.bundles`, Postgres). */
  readonly dataDir: string;
  /**
   * The server's hold on its SQLite file and its bundle directory, which a second server is refused
   * (store-lock.ts); owned from here on, and let go once the server has stopped or failed to start.
   * `valkyrie server` passes the one it took before it opened the store; by default the server takes
   * it at start, before anything is written to the store, on `stores.sqliteFile` and `dataDir`.
   */
  readonly storeLock?: ServerStoreLock;
  /** The largest bundle an upload may store; larger ones get 413. Default 1 GiB. */
  readonly maxBundleBytes?: number;
  /** Unfinished jobs in the store above which a submitted run is refused whole (429). Default 10,000. */
  readonly queueCapacity?: number;
  /**
   * How long parsing a submitted workflow may take before it is stopped and the submission refused
   * (413 VK_WORKFLOW_PARSE_TIMEOUT). Default 10 s.
   */
  readonly workflowParseTimeoutMs?: number;
  /**
   * How many submitted workflows may be parsed or wait to be, one at a time, at once; a submission
   * past them is refused (503 VK_SERVER_BUSY). Default 16.
   */
  readonly maxQueuedParses?: number;
  /**
   * The limit of a takeover's parse of a run's stored workflow once it took longer than
   * `workflowParseTimeoutMs` three sweeps in a row (run-takeover.ts). Default 10× that.
   */
  readonly takeoverParseTimeoutMs?: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** VALKYRIE_ADMIN_TOKEN. */
  readonly adminToken?: string;
  /** How long a request body (a bundle upload) may send nothing before it is given up (408). Default 60 s. */
  readonly bodyIdleTimeoutMs?: number;
  /** How long shutdown waits for running runs before it closes anyway. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /**
   * How long destroy() waits for a store that does not answer (a Postgres that hangs) before it
   * gives up on it (Stores.cut): the store writes still waiting fail, and destroy() rejects with the
   * store's error. Default 30 s.
   */
  readonly storeGraceMs?: number;
  readonly clock?: Clock;
  readonly controlPlane?: Omit<ControlPlaneOptions, 'issueJobToken' | 'clock'>;
  readonly longPoll?: { readonly holdMs?: number; readonly sessionTtlMs?: number };
  readonly version?: string;
  readonly logError?: (error: unknown) => void;
  /**
   * For what an operator should know of that is no failure (a run the server ended because it could not
   * go on with it): one line, without a newline. Default: `valkyrie server: LINE` on stderr.
   */
  readonly logNotice?: (line: string) => void;
  /**
   * How often to look for runs whose server stopped, to take them over, and for runs to hand to
   * another replica or handed here (run-takeover.ts, run-handoff.ts). Default 5 s.
   */
  readonly takeoverIntervalMs?: number;
  /** The floor between two handoffs of one run to another replica (run-handoff.ts). Default 10 s. */
  readonly handoffFloorMs?: number;
  /**
   * How old a handoff must be before a replica other than its target takes the run over, when the
   * target did not adopt it (run-liveness.ts). Default 15 s; every replica is to use the same.
   */
  readonly staleHandoffMs?: number;
  /**
   * How many times in a row a run given up after a failed store write is taken over and continued
   * without a job of it finishing between; the next such takeover ends it `failed` (run-takeover.ts;
   * takeovers after a crash or a restart do not count). A positive integer; default 3.
   */
  readonly maxTakeovers?: number;
  /** How often to look for cancels of driven runs asked of other replicas. Default 1 s. */
  readonly cancelPollIntervalMs?: number;
  /**
   * How often to write this replica's runners to the store and apply runner modes set on other
   * replicas (runner-directory.ts), and to end the sessions of runner credentials revoked on other
   * replicas, and the event streams of API tokens revoked there (credential-revocations.ts). Default 1 s.
   */
  readonly runnerSyncIntervalMs?: number;
  /**
   * How long a runner that has not been seen (it left, or its replica died) stays listed, as offline,
   * before it is pruned from the store; its operator mode goes with it. Default 24 h.
   */
  readonly runnerRetentionMs?: number;
  /**
   * How often an event or log stream of a run this replica does not drive reads the store for what
   * is new (stored-run-follower.ts). Default 500 ms.
   */
  readonly streamPollIntervalMs?: number;
  /**
   * How long a workspace bundle nobody uses (uploads it, submits or re-runs a run with it, or fetches
   * it for a job) is kept, unless an unfinished run names it (bundle-sweeper.ts). Default 7 days.
   */
  readonly bundleRetentionMs?: number;
  /** How often this replica sweeps bundles past their retention. Default a quarter of it, at most 1 h. */
  readonly bundleSweepIntervalMs?: number;
}

/** 1 GiB: a workspace larger than that belongs in an artifact store, not a job bundle. */
export const defaultMaxBundleBytes = 1024 * 1024 * 1024;

/** GitHub removes a self-hosted runner offline for 14 days (an ephemeral one after a day); a day here. */
export const defaultRunnerRetentionMs = 24 * 60 * 60 * 1000;
