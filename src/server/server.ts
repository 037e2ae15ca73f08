import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '../core/clock.js';
import { counted } from '../core/counted.js';
import { asRunId } from '../core/ids.js';
import { CancelRequestPoller } from '../engine/cancel-request-poller.js';
import { ControlPlane, type ControlPlaneOptions } from '../engine/control-plane.js';
import { controlPlaneDefaults } from '../engine/control-plane-options.js';
import { controlPlaneDecoder } from '../protocol/frame.js';
import { LongPollAcceptor } from '../protocol/long-poll/acceptor.js';
import type { ControlMessage, RunnerMessage } from '../protocol/messages.js';
import { WebSocketAcceptor } from '../protocol/websocket/acceptor.js';
import { FileBundleStore } from '../store/files/bundle-store.js';
import { defaultQueueCapacity } from '../store/submissions.js';
import { buildApi } from './app.js';
import { withoutRequestTimeout } from './body-idle-timeout.js';
import { BundleSweeper, bundleSweepIntervalMs, defaultBundleRetentionMs } from './bundle-sweeper.js';
import type { ApiContext, DrivenRun } from './context.js';
import { CredentialRevocations, type CredentialSessions } from './credential-revocations.js';
import { releaseRuns, runTakenOver } from './driven-runs.js';
import { listen } from './listen.js';
import { ServerMetrics } from './metrics.js';
import { RequestsBeforeHandler } from './requests-before-handler.js';
import { resumeTakeover } from './resume-takeover.js';
import { RunFeed } from './run-feed.js';
import { RunTakeover } from './run-takeover.js';
import { runnerAuthentication } from './runner-authentication.js';
import { RunnerDirectory } from './runner-directory.js';
import type { EventStream } from './sse.js';
import { bundleDirectory, ServerStoreLock } from './store-lock.js';
import { StoreOutageLines } from './store-outage-lines.js';
import { StreamSessions } from './stream-sessions.js';
import { TokenAuthority } from './tokens.js';
import {
  defaultMaxQueuedParses,
  defaultParseTimeoutMs,
  WorkflowParseThread,
} from './workflow-parse-thread.js';

export const webSocketPath = '/api/v1/runner/ws';
export const longPollPath = '/api/v1/runner/poll';

import { defaultMaxBundleBytes, defaultRunnerRetentionMs, type ServerOptions } from './server-options.js';

export { defaultMaxBundleBytes, defaultRunnerRetentionMs, type ServerOptions };

/**
 * `valkyrie server`: the HTTP API, the runner protocol endpoints (WebSocket and long-poll, on the same
 * port) and a control plane, on one store. Lifecycle: `start` (refused with VK_STORE_IN_USE while
 * another server serves its SQLite file or keeps bundles in its data directory: ServerOptions.storeLock)
 * → `close()` (two-phase: stop intake, the API answers 503; wait for driven runs up to the drain
 * deadline; then close the protocol endpoints, open streams, the HTTP server and the store) or
 * `destroy()` (the same without waiting). Both are idempotent and return the same promise; every
 * releaser runs even when an earlier one fails.
 */
export class ValkyrieServer implements AsyncDisposable {
  private closing: Promise<Drained> | undefined;
  private destroying: Promise<Drained> | undefined;
  private readonly drainTimeoutMs: number;
  private readonly storeGraceMs: number;

  private constructor(
    /** The Fastify instance: `inject` answers requests in process (tests). */
    readonly app: FastifyInstance,
    private readonly context: ApiContext,
    /** Read by the API's routes (context.closing): set once, when shutdown begins. */
    private readonly intake: { stopped: boolean },
    private readonly acceptors: { readonly ws: { close(): Promise<void> }; readonly poll: { close(): void } },
    private readonly takeover: RunTakeover,
    private readonly cancelRequests: CancelRequestPoller,
    private readonly revocations: CredentialRevocations,
    private readonly bundleSweeper: BundleSweeper,
    private readonly storeLock: ServerStoreLock,
    private readonly outage: StoreOutageLines,
    readonly url: string,
    /** The admin token created at this start, if one was (print it once). */
    readonly generatedAdminToken: string | undefined,
    options: ServerOptions,
  ) {
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.storeGraceMs = options.storeGraceMs ?? 30_000;
  }

  static async start(options: ServerOptions): Promise<ValkyrieServer> {
    const { stores } = options;
    const clock = options.clock ?? systemClock;
    const storeLock = options.storeLock ?? new ServerStoreLock(stores.sqliteFile, options.dataDir);
    let poll: LongPollAcceptor<ControlMessage, RunnerMessage, string> | undefined;
    let withdrawAdmin = async () => {};
    let outage: StoreOutageLines | undefined;
    // Its event-loop histogram samples until closed: a failed start closes it too.
    let metrics: ServerMetrics | undefined;
    try {
      const logNotice =
        options.logNotice ?? ((line: string) => process.stderr.write(`valkyrie server: ${line}\n`));
      await storeLock.hold(stores, logNotice);
      const authority = await TokenAuthority.open(stores.tokens, clock);
      const generated = await authority.bootstrapAdmin(options.adminToken);
      if (generated !== undefined) withdrawAdmin = () => authority.withdrawBootstrapped(generated);
      const driven = new Map<string, DrivenRun>();
      outage = new StoreOutageLines(
        (line) => process.stderr.write(`${line}\n`),
        () => stores.runs.listRuns({ limit: 1 }),
        clock,
      );
      const logError = options.logError ?? outage.report;
      let directory: RunnerDirectory | undefined;
      let resumeWait: ControlPlaneOptions['resumeWait'];
      const controlPlane = new ControlPlane(stores, {
        ...options.controlPlane,
        clock,
        issueJobToken: (jobId, runId, ttlMs) =>
          authority.issueJobToken(jobId, ttlMs, driven.get(runId)?.bundle),
        storedRunnerMode: (runnerId) => directory?.modeOf(runnerId),
        recordRunnerStopped: (runnerId) => directory?.stopped(runnerId) ?? Promise.resolve(),
        // No failure of this server: mostly a runner back from a server that died, whose run another
        // replica took over meanwhile; else a runner that is not what it claims.
        reportNeverHeld: ({ runnerId, count, lastJobId }) =>
          logNotice(
            `runner ${runnerId} sent ${counted(count, 'message')} about jobs it never held a lease on here (the last about ${JSON.stringify(lastJobId)}; a run another server drives now?); refused, not stored`,
          ),
        // A write refused by the run fence: as when the run's heartbeat finds it taken (driven-runs.ts).
        runTakenOver: (runId) => runTakenOver(context, runId)(),
        // A runner back from a replica of this host that died or stops: its run is taken over first.
        resumeWait: (runnerId, jobIds) => resumeWait?.(runnerId, jobIds),
      });
      directory = new RunnerDirectory(
        stores.runners,
        () => controlPlane,
        replicaName(),
        clock,
        options.runnerSyncIntervalMs ?? 1_000,
        options.runnerRetentionMs ?? defaultRunnerRetentionMs,
        logError,
        options.controlPlane?.leaseTtlMs ?? controlPlaneDefaults.leaseTtlMs,
      );
      let endpoints: readonly CredentialSessions[] = [];
      const revocations = new CredentialRevocations(
        stores.tokens,
        () => endpoints,
        (runnerId) => directory.forget(runnerId),
        controlPlane,
        options.runnerSyncIntervalMs ?? 1_000,
        logError,
      );
      const feed = new RunFeed(stores, { pollMs: options.streamPollIntervalMs ?? 500, logError });
      // Neither reads the store on an event: a turn's job updates stay one write (RunEventListenerOptions).
      controlPlane.onEvent(feed.publish, { readsStore: false });
      const intake = { stopped: false };
      const streams = new Set<EventStream>();
      metrics = new ServerMetrics({
        runners: () => controlPlane.runners(),
        runs: stores.runs,
        driven,
        streams,
      });
      controlPlane.onEvent(metrics.observe, { readsStore: false });
      // In a shared store every replica serves every bundle; files serve only this replica's uploads.
      const bundles = stores.bundles ?? new FileBundleStore(bundleDirectory(options.dataDir));
      // Before the port listens, so that no upload of this server has begun: every one found is dead.
      if (bundles instanceof FileBundleStore && storeLock.holdsBundleDirectory())
        await removeDeadUploads(bundles, logNotice);
      const bundleRetentionMs = options.bundleRetentionMs ?? defaultBundleRetentionMs;
      const context: ApiContext = {
        stores,
        authority,
        controlPlane,
        runners: directory,
        revocations,
        feed,
        bundles,
        maxBundleBytes: options.maxBundleBytes ?? defaultMaxBundleBytes,
        bundleRetentionMs,
        queueCapacity: options.queueCapacity ?? defaultQueueCapacity,
        parseThread: new WorkflowParseThread({
          timeoutMs: options.workflowParseTimeoutMs ?? defaultParseTimeoutMs,
          maxQueued: options.maxQueuedParses ?? defaultMaxQueuedParses,
        }),
        driven,
        streamSessions: new StreamSessions(streams, {
          authority,
          closing: () => intake.stopped,
          logError,
          clock,
        }),
        uploads: new Set(),
        requestsBeforeHandler: new RequestsBeforeHandler(),
        metrics,
        clock,
        logError,
        logNotice,
        closing: () => intake.stopped,
      };
      const takeoverIntervalMs = options.takeoverIntervalMs ?? 5_000;
      const takeover = new RunTakeover(context, takeoverIntervalMs, logError, {
        ...(options.maxTakeovers === undefined ? {} : { maxTakeovers: options.maxTakeovers }),
        ...(options.handoffFloorMs === undefined ? {} : { handoffFloorMs: options.handoffFloorMs }),
        ...(options.staleHandoffMs === undefined ? {} : { staleHandoffMs: options.staleHandoffMs }),
        ...(options.takeoverParseTimeoutMs === undefined
          ? {}
          : { longParseTimeoutMs: options.takeoverParseTimeoutMs }),
      });
      resumeWait = resumeTakeover(context, () => takeover.sweepSoon());
      const authenticate = runnerAuthentication(authority, intake, directory, takeover.firstSweep, logError);
      poll = new LongPollAcceptor<ControlMessage, RunnerMessage, string>({
        basePath: longPollPath,
        authenticate,
        logError,
        decoder: controlPlaneDecoder,
        ...options.longPoll,
      });
      const app = buildApi(context, {
        version: options.version ?? '0.1.0',
        serverFactory: (handler) =>
          withoutRequestTimeout(
            options.tls === undefined
              ? createHttpServer(handler)
              : // https.Server emits the same 'request' and 'upgrade' events the acceptors use.
                (createHttpsServer(
                  { cert: options.tls.cert, key: options.tls.key },
                  handler,
                ) as unknown as Server),
          ),
        rawPrefix: { path: longPollPath, handle: (request, response) => poll?.handle(request, response) },
        logError,
        ...(options.bodyIdleTimeoutMs === undefined ? {} : { bodyIdleTimeoutMs: options.bodyIdleTimeoutMs }),
      });
      const ws = new WebSocketAcceptor<ControlMessage, RunnerMessage, string>({
        server: app.server,
        path: webSocketPath,
        authenticate,
        logError,
        decoder: controlPlaneDecoder,
      });
      // The credential names the runner, so a runner that reconnects (or switches transport) gets its
      // leases back instead of losing them.
      ws.onConnection((transport, runnerId) =>
        controlPlane.connect(transport, { runnerId, transport: 'websocket' }),
      );
      poll.onConnection((transport, runnerId) =>
        controlPlane.connect(transport, { runnerId, transport: 'long-poll' }),
      );
      endpoints = [ws, poll, context.streamSessions];
      await listen(app, options);
      const address = app.server.address() as AddressInfo;
      const scheme = options.tls === undefined ? 'http' : 'https';
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `${scheme}://${host}:${address.port}`;
      takeover.start();
      void context.parseThread.warm();
      const cancelRequests = new CancelRequestPoller(
        stores.recovery,
        () => new Map([...driven].map(([id, run]) => [id, run.handle])),
        options.cancelPollIntervalMs ?? 1_000,
        logError,
      );
      cancelRequests.start();
      const bundleSweeper = new BundleSweeper(
        bundles,
        stores.recovery,
        clock,
        bundleRetentionMs,
        options.bundleSweepIntervalMs ?? bundleSweepIntervalMs(bundleRetentionMs),
        logError,
      );
      bundleSweeper.start();
      directory.start();
      revocations.start();
      return new ValkyrieServer(
        app,
        context,
        intake,
        { ws, poll },
        takeover,
        cancelRequests,
        revocations,
        bundleSweeper,
        storeLock,
        outage,
        url,
        generated,
        options,
      );
    } catch (error) {
      outage?.stop();
      metrics?.close();
      // The long-poll sweeper's timer would keep the process alive after a failed start.
      poll?.close();
      await withdrawAdmin().catch(() => undefined);
      await stores.close().catch(() => undefined);
      storeLock.release();
      throw error;
    }
  }

  /**
   * Revokes the admin token this start generated (generatedAdminToken), for a caller that could not
   * show it: no one holds it, and the next start, finding no usable admin token, makes and shows
   * another. A no-op when none was generated.
   */
  async withdrawGeneratedAdminToken(): Promise<void> {
    if (this.generatedAdminToken !== undefined)
      await this.context.authority.withdrawBootstrapped(this.generatedAdminToken);
  }

  /**
   * Phase one: refuse new work, hand out no more jobs, and wait until the jobs running on runners have
   * reported (or the driven runs ended) and the bundle uploads begun before have been answered, up to
   * the drain deadline; then destroy(). Queued jobs wait for the server after a restart, or another
   * replica, to take their runs over: a job leased now would be cut off half-way. Resolves with the
   * jobs the deadline left running, for the operator to be told.
   */
  close(): Promise<Drained> {
    this.closing ??= (async () => {
      this.intake.stopped = true;
      // Intake: a submission still being parsed is refused (503) rather than started while draining.
      void this.context.parseThread.close().catch(() => undefined);
      const { controlPlane, driven } = this.context;
      controlPlane.shuttingDown();
      for (const runner of controlPlane.runners())
        if (runner.connected) controlPlane.setRunnerMode(runner.id, 'draining', 'shutdown');
      const runs = [...driven.values()].map((run) => run.handle.done.catch(() => undefined));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.drainTimeoutMs);
      });
      const idle = new AbortController();
      const jobsDone = Promise.race([Promise.all(runs), noJobRunning(controlPlane, idle.signal)]);
      await Promise.race([jobsDone.then(() => uploadsAnswered(this.context.uploads)), deadline]);
      idle.abort();
      clearTimeout(timer);
      return await this.destroy();
    })();
    return this.closing;
  }

  /**
   * Phase two, at once: closes protocol endpoints, streams, the HTTP server (answering 503 first the
   * API requests whose route has not begun: RequestsBeforeHandler) and the store. Several
   * steps write to the store; one that stopped answering is given up on after `storeGraceMs`.
   * Resolves with the jobs left running on runners as it began, for the operator to be told.
   */
  destroy(): Promise<Drained> {
    this.destroying ??= (async () => {
      this.intake.stopped = true;
      const jobsLeftRunning = this.context.controlPlane
        .runners()
        .reduce((sum, runner) => sum + runner.running, 0);
      const { feed, streamSessions, stores } = this.context;
      const failures: unknown[] = [];
      let cut: Error | undefined;
      const grace = setTimeout(() => {
        cut = stores.cut?.(this.storeGraceMs);
      }, this.storeGraceMs);
      const release = async (step: () => unknown) => {
        try {
          await step();
        } catch (error) {
          failures.push(error);
        }
      };
      // Before the takeover's stop, which waits for its sweep: a takeover parsing a stored workflow
      // (without a limit after time-outs, run-takeover.ts) is answered `closed` and put off at once.
      await release(() => this.context.parseThread.close());
      await release(() => this.takeover.stop());
      await release(() => this.cancelRequests.stop());
      await release(() => this.revocations.stop());
      await release(() => this.bundleSweeper.stop());
      // Runs still driven stay unfinished in the store; without a heartbeat another server takes them over.
      const drivenRuns = [...this.context.driven.keys()].map(asRunId);
      await release(() => {
        for (const run of this.context.driven.values()) run.ownership.stop();
      });
      await release(() => this.acceptors.ws.close());
      await release(() => this.acceptors.poll.close());
      await release(() => this.context.runners.stop());
      // After the runners' connections, whose ends it still applies; before the store its writes go to.
      await release(async () => {
        await this.context.controlPlane.close();
        // Nothing of this process reaches those runs' runners or rows any more: any server may take
        // them over at once, holding their jobs' leases (driven-runs.ts).
        await releaseRuns(this.context, drivenRuns);
      });
      await release(() => feed.close());
      await release(() => streamSessions.close());
      // Last before the HTTP server's close, which would end their connections unanswered: a request
      // whose token check comes back before it is served as usual.
      await release(() => this.context.requestsBeforeHandler.refuseAll());
      await release(() => this.app.close());
      await release(() => this.context.metrics.close());
      this.outage.stop();
      await release(() => stores.close());
      // Last: another server may start on the file and the data directory from here on.
      await release(() => this.storeLock.release());
      clearTimeout(grace);
      // The cut is why the steps after it failed: it is the failure to report.
      if (cut !== undefined) throw cut;
      if (failures.length > 0) throw failures[0];
      return { jobsLeftRunning };
    })();
    return this.destroying;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

let serversStarted = 0;

/** This server's name in the store's runner list: host and pid, and a count when a process runs several. */
function replicaName(): string {
  serversStarted++;
  const name = `${hostname()}/${process.pid}`;
  return serversStarted === 1 ? name : `${name}.${serversStarted}`;
}

/** What close() or destroy() left: jobs still running on runners when the drain ended or was skipped (0: none). */
export interface Drained {
  readonly jobsLeftRunning: number;
}

/** Removes the partial uploads an earlier server on this data directory left when it died. */
async function removeDeadUploads(bundles: FileBundleStore, logNotice: (line: string) => void): Promise<void> {
  const { count, bytes } = await bundles.removeDeadUploads();
  if (count > 0)
    logNotice(
      `removed ${counted(count, 'partial bundle upload')} (${counted(bytes, 'byte')}) that a server stopped mid-upload left in the data directory`,
    );
}

/** Resolves once every bundle upload begun before the drain has been answered (none starts during it). */
async function uploadsAnswered(uploads: ReadonlySet<Promise<void>>): Promise<void> {
  while (uploads.size > 0) await Promise.all(uploads);
}

/** Resolves once no runner holds a lease here (checked every 50 ms), or when `stop` aborts. */
async function noJobRunning(controlPlane: ControlPlane, stop: AbortSignal): Promise<void> {
  while (!stop.aborted && controlPlane.runners().some((runner) => runner.running > 0))
    await new Promise((resolve) => setTimeout(resolve, 50));
}
