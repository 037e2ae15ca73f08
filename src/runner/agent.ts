import { type Clock, systemClock, type TimerHandle } from '../core/clock.js';
import type { Executor } from '../executors/contract.js';
import type { ControlMessage, LogEntry, RunnerInfo, RunnerMessage } from '../protocol/messages.js';
import { protocolVersion } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import type { HostDescription } from './host.js';
import { type JobReporter, type JobRunResult, runJob } from './job-run.js';
import { type JobDirectories, SlotDirectories } from './slot-directories.js';

export interface RunnerAgentOptions {
  readonly info: RunnerInfo;
  readonly host: HostDescription;
  /** One executor per job. */
  readonly createExecutor: () => Executor;
  /** Each job slot gets its own RUNNER_TEMP and files directory under it. */
  readonly tempRoot: string;
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Log entries are sent at most this often per job (or sooner when a batch grows large). */
  readonly logFlushMs?: number;
  /** Times lease renewals; tests pass a clock they move by hand. */
  readonly clock?: Clock;
}

interface ActiveJob {
  readonly fencingToken: number;
  readonly cancel: AbortController;
  readonly kill: AbortController;
  readonly done: Promise<void>;
}

const maxBatchBytes = 64 * 1024;

/**
 * The runner side of the protocol: registers, accepts offers up to its capacity, runs leased jobs,
 * renews each lease at a third of its TTL and reports under the lease's fencing token. A job whose
 * lease the control plane says is stale (it expired and went elsewhere) is cancelled here. It knows the
 * control plane only through the transport.
 */
export class RunnerAgent {
  private readonly active = new Map<string, ActiveJob>();
  private accepting = true;
  private readonly directories: SlotDirectories;

  constructor(
    private readonly transport: Transport<RunnerMessage, ControlMessage>,
    private readonly options: RunnerAgentOptions,
  ) {
    transport.onMessage((message) => this.handle(message));
    this.directories = new SlotDirectories(options.tempRoot);
  }

  start(): void {
    this.transport.send({ type: 'register', version: protocolVersion, runner: this.options.info });
  }

  /** Stops taking offers, waits for running jobs to finish, then removes the job directories. */
  async drain(): Promise<void> {
    this.accepting = false;
    await Promise.allSettled([...this.active.values()].map((job) => job.done));
    this.directories.dispose();
  }

  private handle(message: ControlMessage): void {
    switch (message.type) {
      case 'registered':
        return;
      case 'offer': {
        const free = this.accepting && this.active.size < this.options.info.capacity;
        this.transport.send(
          free
            ? { type: 'accept', jobId: message.jobId }
            : { type: 'decline', jobId: message.jobId, reason: this.accepting ? 'at capacity' : 'draining' },
        );
        return;
      }
      case 'lease':
        this.startJob(message);
        return;
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
      }
    }
  }

  private startJob(lease: Extract<ControlMessage, { type: 'lease' }>): void {
    const { jobId, fencingToken } = lease;
    const cancel = new AbortController();
    const kill = new AbortController();
    const batcher = new LogBatcher(this.options.logFlushMs ?? 250, (entries) =>
      this.transport.send({ type: 'log', jobId, fencingToken, entries }),
    );
    const reporter: JobReporter = {
      stepStarted: (index, name, at, attempt) => {
        batcher.flush();
        this.transport.send({ type: 'step.started', jobId, fencingToken, index, name, at, attempt });
      },
      log: (entry) => batcher.add(entry),
      stepCompleted: (step) => {
        batcher.flush();
        this.transport.send({ type: 'step.completed', jobId, fencingToken, step });
      },
    };
    const renewal = this.renewEvery(Math.max(1, Math.floor(lease.ttlMs / 3)), () =>
      this.transport.send({ type: 'renew', jobId, fencingToken }),
    );
    const done = this.execute(lease, reporter, cancel.signal, kill.signal).then((result) => {
      renewal.cancel();
      batcher.flush();
      this.active.delete(jobId);
      this.transport.send({ type: 'job.completed', jobId, fencingToken, ...result, at: Date.now() });
    });
    this.active.set(jobId, { fencingToken, cancel, kill, done });
  }

  /** Calls `renew` every `intervalMs` until the returned handle is cancelled. */
  private renewEvery(intervalMs: number, renew: () => void): TimerHandle {
    const clock = this.options.clock ?? systemClock;
    let timer: TimerHandle | undefined;
    let stopped = false;
    const arm = (): void => {
      timer = clock.setTimer(() => {
        if (stopped) return;
        renew();
        arm();
      }, intervalMs);
    };
    arm();
    return {
      cancel: () => {
        stopped = true;
        timer?.cancel();
      },
    };
  }

  /**
   * Runs the job and always settles with a result: whatever goes wrong around it (the executor cannot
   * be created, cleanup throws, the slot cannot be emptied) fails the job instead of leaving the
   * control plane waiting for a completion that never comes.
   */
  private async execute(
    lease: Extract<ControlMessage, { type: 'lease' }>,
    reporter: JobReporter,
    signal: AbortSignal,
    killSignal: AbortSignal,
  ): Promise<JobRunResult> {
    let directories: JobDirectories | undefined;
    try {
      directories = this.directories.acquire();
      const { host, baseEnv } = this.options;
      const executor = this.options.createExecutor();
      return await runJob(lease.job, { executor, reporter, host, directories, baseEnv, signal, killSignal });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        outcome: { kind: 'failed', reason: `the runner could not run the job: ${reason}` },
        outputs: {},
      };
    } finally {
      if (directories) this.releaseQuietly(directories);
    }
  }

  private releaseQuietly(directories: JobDirectories): void {
    try {
      this.directories.release(directories);
    } catch {
      // A slot that cannot be emptied is not reused; the next job gets a fresh one.
    }
  }
}

/** Batches log entries per job: flushed every `intervalMs` or at 64 KiB, whichever comes first. */
class LogBatcher {
  private entries: LogEntry[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (entries: LogEntry[]) => void,
  ) {}

  add(entry: LogEntry): void {
    this.entries.push(entry);
    this.bytes += entry.text.length + 32;
    if (this.bytes >= maxBatchBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.entries.length === 0) return;
    const batch = this.entries;
    this.entries = [];
    this.bytes = 0;
    this.send(batch);
  }
}
