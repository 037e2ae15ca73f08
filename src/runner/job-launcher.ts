import { join } from 'node:path';
import { messageOf } from '../core/error-message.js';
import type { ControlMessage } from '../protocol/messages.js';
import type { RunnerAgentOptions } from './agent.js';
import { type JobReporter, type JobRunOptions, type JobRunResult, runJob } from './job-run.js';
import { abortReasonOf } from './job-status.js';
import { JobWorkspaces } from './job-workspaces.js';
import { type JobDirectories, SlotDirectories } from './slot-directories.js';
import { TaskPoolHolder } from './task-pool.js';

export type LeaseMessage = Extract<ControlMessage, { type: 'lease' }>;

/** How a job is stopped: a cancel, a kill, and whether a cancel is the runner's shutdown (JobRunOptions). */
export type JobSignals = Pick<JobRunOptions, 'signal' | 'killSignal' | 'shutdownSignal'>;

/**
 * Where and with what a runner's jobs run: each in a slot of RUNNER_TEMP and files directories, in its
 * own workspace under the work directory (a network runner's) or in the spec's (local mode), from
 * one environment, with one thread pool for the runner's task steps.
 */
export class JobLauncher {
  private readonly directories: SlotDirectories;
  private readonly workspaces: JobWorkspaces | undefined;
  /** The environment jobs start from: the options' baseEnv, with git kept inside a network runner's jobs. */
  private readonly jobEnv: Readonly<Record<string, string>>;
  /** One thread pool per runner for `uses: task://…` steps, started by the first one. */
  private readonly taskPool = new TaskPoolHolder();

  /** `warn`: a line for the operator, here what could not be removed after a job. */
  constructor(
    private readonly options: RunnerAgentOptions,
    warn: (line: string) => void,
  ) {
    this.directories = new SlotDirectories(options.tempRoot, warn);
    if (options.workDir !== undefined)
      this.workspaces = new JobWorkspaces(join(options.workDir, 'jobs'), warn, options.workspaceFor);
    this.jobEnv = this.workspaces?.environment(options.baseEnv, options.tempRoot) ?? options.baseEnv;
  }

  /**
   * Runs the job and always settles with a result: whatever goes wrong around it (the executor cannot
   * be created, cleanup throws, no slot can be made) fails the job instead of leaving the
   * control plane waiting for a completion that never comes.
   */
  async execute(lease: LeaseMessage, reporter: JobReporter, signals: JobSignals): Promise<JobRunResult> {
    let directories: JobDirectories | undefined;
    let jobDir: string | undefined;
    try {
      let job = lease.job;
      if (this.workspaces !== undefined) {
        // The cancel stops a bundle download at once (a large one would hold the cancel for minutes),
        // and the job ends cancelled before its first step, not failed by what the cancel cut short.
        const prepared = await this.workspaces
          .prepare(job, lease.jobToken, signals.signal)
          .catch((error: unknown) => {
            if (stoppedBy(signals.signal, error)) return undefined;
            throw error;
          });
        if (prepared === undefined)
          return { outcome: { kind: 'cancelled', reason: abortReasonOf(signals.signal) }, outputs: {} };
        jobDir = prepared.dir;
        job = prepared.job;
      }
      directories = await this.directories.acquire();
      const { host, stateDir, hooks } = this.options;
      const executor = this.options.createExecutor(job);
      const { taskPool } = this;
      return await runJob(job, {
        executor,
        reporter,
        host,
        directories,
        baseEnv: this.jobEnv,
        ...signals,
        taskPool,
        stateDir,
        hooks,
      });
    } catch (error) {
      const reason = messageOf(error);
      return {
        outcome: { kind: 'failed', reason: `the runner could not run the job: ${reason}` },
        outputs: {},
      };
    } finally {
      if (directories) await this.releaseQuietly(directories);
      if (jobDir !== undefined) await this.workspaces?.remove(jobDir);
    }
  }

  /** Once no job runs any more: stops the task pool and removes the slots' directories. */
  async close(): Promise<void> {
    await this.taskPool.close();
    await this.directories.dispose();
  }

  private async releaseQuietly(directories: JobDirectories): Promise<void> {
    try {
      await this.directories.release(directories);
    } catch {
      // A slot that cannot be emptied is not reused; the next job gets a fresh one.
    }
  }
}

/**
 * Whether `error` is the stop `signal` caused: its reason (fetch rejects with it) or an AbortError (a
 * stream pipeline's). A failure of its own that merely ends after the cancel stands: the untrusted
 * certificate a download met, whose job the runner's stop on it (`valkyrie runner`) cancels as the
 * prepare still removes its directory, fails with the certificate's line.
 */
function stoppedBy(signal: AbortSignal, error: unknown): boolean {
  if (!signal.aborted) return false;
  return error === signal.reason || (error instanceof Error && error.name === 'AbortError');
}
