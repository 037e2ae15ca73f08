import type { Clock } from '../core/clock.js';
import type { ControlPlane, RunHandle } from '../engine/control-plane.js';
import type { BundleStore } from '../store/bundles.js';
import type { Stores } from '../store/store.js';
import type { CredentialRevocations } from './credential-revocations.js';
import type { ServerMetrics } from './metrics.js';
import type { RequestsBeforeHandler } from './requests-before-handler.js';
import type { RunFeed } from './run-feed.js';
import type { RunnerDirectory } from './runner-directory.js';
import type { StreamSessions } from './stream-sessions.js';
import type { TokenAuthority } from './tokens.js';
import type { WorkflowParseThread } from './workflow-parse-thread.js';

/** A run this process drives: its handle (to cancel it), its bundle (for job tokens), its heartbeat. */
export interface DrivenRun {
  readonly handle: RunHandle;
  readonly bundle?: string;
  readonly ownership: { stop(): void };
}

/** What the API's routes share; one per server. */
export interface ApiContext {
  readonly stores: Stores;
  readonly authority: TokenAuthority;
  readonly controlPlane: ControlPlane;
  /** The fleet's runners, in the store; every replica lists them and applies their modes. */
  readonly runners: RunnerDirectory;
  /** Ends the runner protocol sessions of a credential revoked here (and, polling, elsewhere). */
  readonly revocations: CredentialRevocations;
  readonly feed: RunFeed;
  readonly bundles: BundleStore;
  readonly maxBundleBytes: number;
  /** How long an unused bundle is kept (bundle-sweeper.ts); named in the answer for a removed one. */
  readonly bundleRetentionMs: number;
  /** Parses submitted workflows off the event loop, one at a time, each within a time limit. */
  readonly parseThread: WorkflowParseThread;
  /** Unfinished jobs above which a submitted run is refused whole (VK_QUEUE_FULL, 429). */
  readonly queueCapacity: number;
  /** Runs started by this process and not finished yet, by run id. */
  readonly driven: Map<string, DrivenRun>;
  /** Opens the Server-Sent Event streams, ends those of a revoked token, and all at shutdown. */
  readonly streamSessions: StreamSessions;
  /** Bundle uploads not answered yet, each settling once its answer is sent: the drain waits for them. */
  readonly uploads: Set<Promise<void>>;
  /** The API requests whose handler has not started (their token check waits on the store): destroy() answers them 503. */
  readonly requestsBeforeHandler: RequestsBeforeHandler;
  /** `GET /metrics`; the app records each answered request in it. */
  readonly metrics: ServerMetrics;
  readonly clock: Clock;
  /** For failures no request answers for (background work): printed on the server's stderr. */
  logError(error: unknown): void;
  /** For news an operator should have that is no failure: one line (ServerOptions.logNotice). */
  logNotice(line: string): void;
  closing(): boolean;
}
