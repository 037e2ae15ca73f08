import { type Clock, systemClock } from '../core/clock.js';
import type { RunnerMode } from '../core/runner-mode.js';
import { visible } from '../core/visible-text.js';
import type { Executor } from '../executors/contract.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type {
  ControlMessage,
  ResumedLease,
  RunnerCapabilities,
  RunnerInfo,
  RunnerMessage,
} from '../protocol/messages.js';
import { protocolVersion } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { AwaitedLeases } from './awaited-leases.js';
import { type Completion, CompletionsInDoubt, maxCompletionsInDoubt } from './completions-in-doubt.js';
import { Departure, type DeregisterEnd } from './departure.js';
import type { HostDescription } from './host.js';
import type { JobEvent } from './job-event.js';
import type { JobHooks } from './job-hooks.js';
import { JobLauncher, type LeaseMessage } from './job-launcher.js';
import type { JobReporter } from './job-run.js';
import type { WorkspaceFor } from './job-workspaces.js';
import { type JobLogLimit, LogBatcher } from './log-batcher.js';
import { renewEvery } from './renewal-timer.js';
import { ReportSender } from './report-sender.js';
import type { SessionSwitches } from './session-switches.js';

const warnOnStderr = (line: string): void => {
  process.stderr.write(`valkyrie runner: ${line}\n`);
};

export type { DeregisterEnd } from './departure.js';

export interface RunnerAgentOptions {
  readonly info: RunnerInfo;
  readonly host: HostDescription;
  /** One executor per job: the job it is for (after `workspaceFor`, which may move its workspace). */
  readonly createExecutor: (job: JobSpec) => Executor;
  /** Each job slot gets its own RUNNER_TEMP and files directory under it. */
  readonly tempRoot: string;
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Local mode's state directory, maybe in the workspace: hashFiles() leaves it out (hash-files.ts). */
  readonly stateDir?: string;
  /** Log entries are sent at most this often per job (or sooner when a batch grows large). */
  readonly logFlushMs?: number;
  /** Each job's stdout and stderr past this is left out, said once in its log (none: no limit). */
  readonly logLimit?: JobLogLimit;
  /** Times lease renewals; tests pass a clock they move by hand. */
  readonly clock?: Clock;
  /**
   * How long a drain waits for the lease of an offer it accepted (a round trip and a store write; the
   * wall clock's, not `clock`'s). Default 5 s.
   */
  readonly leaseWaitMs?: number;
  /**
   * A network runner's work directory: each job runs in its own empty directory under
   * `<workDir>/jobs`, removed after the job. Without it (local mode) jobs run in the spec's workspace.
   */
  readonly workDir?: string;
  /** Fills the job's directory (e.g. with its bundle); only with `workDir`. */
  readonly workspaceFor?: WorkspaceFor;
  /** Sent with `register`; `updateCapabilities` sends fresh ones. */
  readonly capabilities?: RunnerCapabilities;
  /** When the transport moves to a new session, the agent registers again and resumes its leases. */
  readonly switches?: SessionSwitches;
  /**
   * Told the mode an operator set for this runner, with their note, whenever either differs from the
   * one told last (at first: `online`, no note): at each `registered`, and at each `mode` message,
   * which it asks for in its `register` when this is given (protocol.md).
   */
  readonly onMode?: (mode: RunnerMode, note: string | undefined) => void;
  /**
   * Told at each `registered` (before onMode): the control plane has the register of the session up
   * now, the first or one a switch opened, and lists the runner connected — not yet when it opens.
   */
  readonly onRegistered?: () => void;
  /**
   * A line for the operator (stderr): a completion in doubt dropped because too many are held, or
   * what a job left that could not be removed.
   */
  readonly warn?: (line: string) => void;
  /**
   * Stops (true) or starts again (false) reading the steps' output, while the lines no server has
   * acknowledged cost more than ReportSender's limit (the shell executor's holdStepOutput).
   */
  readonly holdOutput?: (held: boolean) => void;
  /** The operator's scripts around every job (job-hooks.ts). */
  readonly hooks?: JobHooks;
  /** Told how many jobs it runs each time a leased job starts or ends (`valkyrie runner --ephemeral`). */
  readonly onRunning?: (running: number) => void;
  /**
   * Told when a leased job starts and when it ends, before its completion is sent (`valkyrie runner`
   * prints a line for each, as GitHub's runner prints "Running job" and "Job … completed").
   */
  readonly onJob?: (event: JobEvent) => void;
}

interface ActiveJob {
  readonly fencingToken: number;
  readonly ttlMs: number;
  readonly cancel: AbortController;
  readonly kill: AbortController;
  readonly done: Promise<void>;
}

/**
 * The runner side of the protocol: registers, accepts offers up to its capacity, runs leased jobs,
 * renews each lease at a third of its TTL and reports under the lease's fencing token. A job whose
 * lease the control plane says is stale (it expired and went elsewhere) is cancelled here. It knows the
 * control plane only through the transport.
 *
 * On a transport switch it registers again with `resume`: its running jobs' leases, and those of jobs
 * whose completion is still in doubt (CompletionsInDoubt: it may have been lost with the old
 * connection, or made while no server was up, for however long), marked `completed` — their
 * completions are sent again; the control plane applies a completion once, and takes a copy of one it
 * holds already quietly (LeaseGuard), also after a restart or on another replica. While it holds
 * leases or completions in doubt, it tries to reconnect at least every third of their TTL, as it renews.
 * Its jobs' steps and lines are kept until the store acknowledges them, and sent again on the new
 * session after its `register` (ReportSender), so that each line is stored once, in order.
 */
export class RunnerAgent {
  private readonly active = new Map<string, ActiveJob>();
  /** Aborted by cancelAll: the runner's own cancels are its shutdown's, not a user's (JobRunOptions). */
  private readonly shutdown = new AbortController();
  /** Completions the control plane may not have: sent again after a switch. */
  private readonly completions: CompletionsInDoubt;
  private readonly reports: ReportSender;
  private accepting = true;
  /** Accepted offers: a drain waits for their leases, as for its running jobs. */
  private readonly awaitedLeases: AwaitedLeases;
  /** Set once `drain` has seen its last job end: a lease that comes later is not run (lateLease). */
  private drained = false;
  /** The operator's mode, as the control plane last told it. */
  private mode: RunnerMode = 'online';
  private modeNote: string | undefined;
  /** Set by `drain`: its reason, told again to every new session. */
  private draining: string | undefined;
  /** Set by `deregister`: its reason, and what settles it. */
  private leaving: Departure | undefined;
  private readonly launcher: JobLauncher;
  private capabilities: RunnerCapabilities | undefined;
  /**
   * The last session was lost because its server said it is shutting down (`said`), and a round of
   * reconnect attempts since reached no server either (`gone`: no other replica behind the address,
   * no restarted server yet); undefined once a session is up.
   */
  private serverLeaving: 'said' | 'gone' | undefined;

  constructor(
    private readonly transport: Transport<RunnerMessage, ControlMessage>,
    private readonly options: RunnerAgentOptions,
  ) {
    transport.onMessage((message) => this.handle(message));
    transport.onClose(() => {
      this.awaitedLeases.clear();
      this.leaving?.settle('unanswered');
    });
    const { switches } = options;
    this.completions = new CompletionsInDoubt(options.clock ?? systemClock, {
      heardAt: () => switches?.heardAt,
      onDropped: ({ jobId, fencingToken }) =>
        (options.warn ?? warnOnStderr)(
          `forgot the completion of job ${jobId} (fencing token ${fencingToken}) without knowing the ` +
            `server has it: more than ${maxCompletionsInDoubt} are in doubt`,
        ),
    });
    const sessionUp = switches && (() => switches.kind !== undefined);
    this.reports = new ReportSender(transport, sessionUp, options.warn ?? warnOnStderr, options.holdOutput);
    this.launcher = new JobLauncher(options, options.warn ?? warnOnStderr);
    this.awaitedLeases = new AwaitedLeases(systemClock, options.leaseWaitMs ?? 5_000);
    this.capabilities = options.capabilities;
    options.switches?.onSwitch(() => {
      this.serverLeaving = undefined;
      // A switch without a loss (long-poll back to WebSocket) ends the previous session too.
      this.completions.lost();
      this.registerAgain();
    });
    options.switches?.onLost(({ goingAway }) => {
      this.awaitedLeases.clear();
      this.serverLeaving = goingAway ? 'said' : undefined;
      this.completions.lost();
      this.reports.lost();
      if (this.completions.size > 0) this.leaving?.pause();
    });
    options.switches?.onUnreachable?.(() => {
      if (this.serverLeaving !== 'said') return;
      this.serverLeaving = 'gone';
      if (this.serverGone) this.leaving?.settle('server gone');
    });
    options.switches?.capRetryDelay?.(() => this.reconnectWithinMs());
  }

  start(): void {
    this.register();
  }

  /** How many jobs it runs now. */
  get running(): number {
    return this.active.size;
  }

  /** Offers it accepted whose lease has not come yet: a drain waits up to `waitMs` for each. */
  get accepted(): { readonly jobs: number; readonly waitMs: number } {
    return { jobs: this.awaitedLeases.size, waitMs: this.awaitedLeases.waitMs };
  }

  updateCapabilities(capabilities: RunnerCapabilities): void {
    this.capabilities = capabilities;
    this.transport.send({ type: 'capabilities', capabilities });
  }

  /**
   * Stops taking offers (and tells the control plane, which stops sending them), waits for running
   * jobs to finish, then removes the job directories.
   */
  async drain(reason = 'draining'): Promise<void> {
    this.accepting = false;
    if (this.draining === undefined) {
      this.draining = reason;
      if (this.sessionUp) this.transport.send({ type: 'drain', reason });
    }
    // Until none runs and no accepted offer awaits its lease: a signal between an accept and its lease
    // (the control plane has granted the job already) must not leave that job to be cut off.
    for (;;) {
      await this.awaitedLeases.settled();
      if (this.active.size === 0) break;
      await Promise.allSettled([...this.active.values()].map((job) => job.done));
    }
    this.drained = true;
    await this.launcher.close();
  }

  /**
   * Tells the control plane the runner is stopping for good (after `drain`, before closing): it is
   * listed as stopped at once, keeps its mode and credential. `answered` when the control plane
   * answered within `timeoutMs` of a session being up to carry it; `server gone` when, holding no
   * completion, the runner has no server to wait for (`serverGone`; before the deregister or while
   * it waited); `unanswered` when no answer came in time, the connection closed first (an older server
   * refuses the message and closes it), or `giveUp` aborted. Either of the last two only means it is
   * listed as offline rather than stopped.
   *
   * While no session is up and completions are held for the next one (`resultsAwaitingServer`), the
   * timeout does not run (a session lost meanwhile stops it; the next one starts it again): the server
   * answers a deregister only after the completions sent ahead of it, so the answer is what says they
   * arrived, and a runner that left without it would have its jobs run again once their leases
   * expired. It waits for sessions for as long as that takes, until `giveUp` aborts.
   */
  deregister(reason: string, timeoutMs: number, giveUp?: AbortSignal): Promise<DeregisterEnd> {
    if (giveUp?.aborted) return Promise.resolve('unanswered');
    const departure = new Departure(reason, timeoutMs, giveUp, () => {
      this.leaving = undefined;
    });
    this.leaving = departure;
    if (this.serverGone) departure.settle('server gone');
    else {
      if (this.sessionUp) this.transport.send({ type: 'deregister', reason });
      if (this.resultsAwaitingServer === 0) departure.awaitAnswer();
    }
    return departure.ended;
  }

  /**
   * Holding no completion, with no session up since its server said it is shutting down and no
   * server reachable after: a leaving runner has nothing more to hand over, and none to answer its
   * deregister; waiting for a server to come back would only delay its stop.
   */
  private get serverGone(): boolean {
    return this.serverLeaving === 'gone' && !this.sessionUp && this.completions.size === 0;
  }

  /**
   * How many job completions wait for the next session to carry them to the control plane: 0 while a
   * session is up (what went out on it is answered in order, before a deregister).
   */
  get resultsAwaitingServer(): number {
    return this.sessionUp ? 0 : this.completions.size;
  }

  /**
   * The longest lease TTL among the completions in doubt: once a server is up again, it holds a lease
   * it finds running for one TTL, so a completion is worth waiting for about that long at most.
   */
  get resultsTtlMs(): number | undefined {
    return this.completions.longestTtlMs();
  }

  /**
   * Whether a message sent now goes to a session. While none is up, drain and deregister are not sent:
   * held, they would reach the next session ahead of the completions registerAgain sends again, and a
   * deregister that overtook one would lose its job. registerAgain sends them after those.
   */
  private get sessionUp(): boolean {
    return this.options.switches === undefined || this.options.switches.kind !== undefined;
  }

  /** The runner shuts down: its running jobs are cancelled, gracefully (JobRunOptions.shutdownSignal) or at once. */
  cancelAll(reason: string, immediate: boolean): void {
    this.shutdown.abort(reason);
    for (const job of this.active.values()) {
      job.cancel.abort(reason);
      if (immediate) job.kill.abort(reason);
    }
  }

  private register(resume?: readonly ResumedLease[]): void {
    const { capabilities } = this;
    this.transport.send({
      type: 'register',
      version: protocolVersion,
      runner: this.options.info,
      ...(resume === undefined ? {} : { resume }),
      ...(capabilities === undefined ? {} : { capabilities }),
      ...(this.options.onMode === undefined ? {} : { modeMessages: true }),
      // Only a runner that keeps its completions (its transport switches) has a use for the answers.
      ...(this.options.switches === undefined ? {} : { completionsStored: true }),
    });
  }

  private modeIs(mode: RunnerMode, note: string | undefined): void {
    if (mode === this.mode && note === this.modeNote) return;
    this.mode = mode;
    this.modeNote = note;
    this.options.onMode?.(mode, note);
  }

  /**
   * The first message of a new session: register with the leases it holds. Then what may be lost: the
   * completions still in doubt are sent again, after the messages the transport held while no session
   * was up (it sends them once this returns, AutoTransport.adopt), so that a completion never goes
   * ahead of its job's log lines: one made while the runner was cut off is held behind them, and lines
   * that reached the control plane after a completion sent again at once would be refused (a
   * completed job's lease is gone).
   */
  private registerAgain(): void {
    const resume: ResumedLease[] = [];
    for (const [jobId, job] of this.active) resume.push({ jobId, fencingToken: job.fencingToken });
    const inDoubt = this.completions.resend();
    for (const { jobId, fencingToken } of inDoubt) resume.push({ jobId, fencingToken, completed: true });
    this.register(resume);
    this.reports.resend(new Set(resume.map(({ jobId }) => jobId)));
    queueMicrotask(() => {
      for (const message of inDoubt) this.transport.send(message);
      // After those completions: a deregister that overtook one would lose its job (runner_lost), and
      // the completion, on a closed session, would be refused.
      if (this.draining !== undefined) this.transport.send({ type: 'drain', reason: this.draining });
      // The old connection may have lost it: a new session of a leaving runner says so again.
      if (this.leaving !== undefined) {
        this.transport.send({ type: 'deregister', reason: this.leaving.reason });
        this.leaving.awaitAnswer();
      }
    });
  }

  private handle(message: ControlMessage): void {
    switch (message.type) {
      case 'registered':
        this.reports.registered(message.logStored === true);
        this.options.onRegistered?.();
        this.modeIs(message.mode ?? 'online', message.note);
        return;
      case 'log.stored':
        this.reports.stored(message.jobId, message.fencingToken, message.lines);
        return;
      case 'completions.stored':
        for (const { jobId, fencingToken } of message.jobs) {
          this.completions.answered(jobId, fencingToken);
          this.reports.settled(jobId, fencingToken);
        }
        return;
      case 'mode':
        this.modeIs(message.mode, message.note);
        return;
      case 'deregistered':
        this.leaving?.settle('answered');
        return;
      case 'offer': {
        this.transport.send(this.answerOffer(message.jobId));
        return;
      }
      case 'lease': {
        this.awaitedLeases.leased(message.jobId);
        const late = this.lateLease();
        const { name, runId } = message.job;
        const line = `did not run job "${visible(name)}" of run ${visible(runId)}: its lease came after ${late}`;
        if (late === undefined) this.startJob(message);
        else (this.options.warn ?? warnOnStderr)(line);
        return;
      }
      case 'cancel': {
        const job = this.active.get(message.jobId);
        if (!job) return;
        job.cancel.abort(message.reason);
        if (message.immediate) job.kill.abort(message.reason);
        return;
      }
      case 'error': {
        const job = this.active.get(message.jobId);
        if (job?.fencingToken === message.fencingToken) job.cancel.abort(message.message);
        this.reports.refused(message.jobId, message.fencingToken);
        if (message.refused === 'job.completed')
          this.completions.answered(message.jobId, message.fencingToken);
      }
    }
  }

  /**
   * Accepts while it has a free slot, unless it still runs an earlier attempt of the job (its lease
   * was lost, or refused after a restart of the control plane, and the job is stopping): two attempts
   * of one job under one id would report as one.
   */
  private answerOffer(jobId: string): RunnerMessage {
    if (!this.accepting) return { type: 'decline', jobId, reason: 'draining' };
    if (this.active.has(jobId)) return { type: 'decline', jobId, reason: 'still running an earlier attempt' };
    if (this.active.size >= this.options.info.capacity)
      return { type: 'decline', jobId, reason: 'at capacity' };
    this.awaitedLeases.accepted(jobId);
    return { type: 'accept', jobId };
  }

  /**
   * Why a lease that comes now is not run, if it is not (the control plane takes its job back): after
   * the drain, the runner would exit under it; after cancelAll, it would skip every step and succeed.
   */
  private lateLease(): string | undefined {
    if (this.shutdown.signal.aborted)
      return `the runner stopped its jobs (${visible(String(this.shutdown.signal.reason))}); the server takes it back as the runner stops`;
    if (this.drained)
      return 'the runner stopped taking jobs; the server takes it back as the runner deregisters';
    return undefined;
  }

  private startJob(lease: LeaseMessage): void {
    const { jobId, fencingToken, ttlMs } = lease;
    this.completions.forget(jobId);
    this.reports.open(jobId, fencingToken);
    const cancel = new AbortController();
    const kill = new AbortController();
    const batcher = new LogBatcher(
      this.options.logFlushMs ?? 250,
      (entries) => this.reports.log(jobId, fencingToken, entries),
      this.options.logLimit,
    );
    const reporter: JobReporter = {
      stepStarted: (index, name, at, attempt) => {
        batcher.flush();
        this.reports.step({ type: 'step.started', jobId, fencingToken, index, name, at, attempt });
      },
      log: (entry) => batcher.add(entry),
      stepCompleted: (step) => {
        batcher.flush();
        this.reports.step({ type: 'step.completed', jobId, fencingToken, step });
      },
    };
    let ended = false;
    // Until the control plane has the job's end: on a slow link (a long-poll backlog of lines) the
    // completion may take longer than a TTL to arrive, and the lease must not expire meanwhile.
    const renewal = renewEvery(
      this.options.clock ?? systemClock,
      Math.max(1, Math.floor(lease.ttlMs / 3)),
      () => {
        if (ended && !this.completions.holds(jobId, fencingToken)) return false;
        this.transport.send({ type: 'renew', jobId, fencingToken });
        return true;
      },
    );
    const startedAt = Date.now();
    this.options.onJob?.({ kind: 'started', job: lease.job });
    const signals = { signal: cancel.signal, killSignal: kill.signal, shutdownSignal: this.shutdown.signal };
    const done = this.launcher.execute(lease, reporter, signals).then((result) => {
      ended = true;
      this.options.onJob?.({
        kind: 'ended',
        job: lease.job,
        outcome: result.outcome,
        ms: Date.now() - startedAt,
      });
      batcher.flush();
      this.reports.ended(jobId);
      this.active.delete(jobId);
      this.options.onRunning?.(this.active.size);
      const message: Completion = { type: 'job.completed', jobId, fencingToken, ...result, at: Date.now() };
      // Only a runner whose transport switches needs them kept.
      if (this.options.switches !== undefined) this.completions.add(message, ttlMs, this.sessionUp);
      this.transport.send(message);
      // Kept in doubt, it is renewed until answered (`completions.stored`, or refused) or settled.
      if (!this.completions.holds(jobId, fencingToken)) renewal.cancel();
    });
    this.active.set(jobId, { fencingToken, ttlMs, cancel, kill, done });
    this.options.onRunning?.(this.active.size);
  }

  /**
   * How far apart reconnect attempts may be: a third of the shortest TTL of the leases it holds (its
   * running jobs', and those of completions in doubt), as it renews them; a server that restarted
   * holds them for one TTL from then. Undefined when it holds none: the transport's own backoff.
   */
  private reconnectWithinMs(): number | undefined {
    let shortest = this.completions.shortestTtlMs();
    for (const { ttlMs } of this.active.values()) shortest = Math.min(shortest ?? ttlMs, ttlMs);
    return shortest === undefined ? undefined : Math.max(1, Math.floor(shortest / 3));
  }
}
