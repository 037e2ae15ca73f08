import type { ProcessOutcome } from '../core/outcome.js';
import { timerDelay } from '../core/timer-delay.js';
import type { OutputLine } from '../executors/contract.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type { JobRunOptions } from './job-run.js';
import { defaultVariables, stepFiles } from './step-environment.js';

/**
 * Scripts a runner's operator has it run around every job, as GitHub's ACTIONS_RUNNER_HOOK_JOB_STARTED
 * and ACTIONS_RUNNER_HOOK_JOB_COMPLETED (or GitLab Runner's pre_build_script / post_build_script):
 * to clean a machine, log in to a registry, or check the host before and after each job.
 */
export interface JobHooks {
  /** Runs before the job's first step; when it fails, the job fails and no step runs. */
  readonly started?: string;
  /**
   * Runs after the job's last step, whatever its outcome (not after a kill, nor after the runner's own
   * shutdown cancelled the job: GitHub's post-job hook step is skipped then); when it fails, so does the job.
   */
  readonly completed?: string;
}

export type HookKind = keyof JobHooks;

/** What a hook's run sees of its job: what its steps would (JobRunOptions), and where its lines go. */
export interface HookRun
  extends Pick<JobRunOptions, 'executor' | 'host' | 'directories' | 'baseEnv' | 'signal' | 'killSignal'> {
  readonly spec: JobSpec;
  /** A job-level line of the job's log (masked by the caller). */
  readonly log: (stream: OutputLine['stream'] | 'system', text: string) => void;
}

const hookLabel: Readonly<Record<HookKind, string>> = {
  started: 'job-started hook',
  completed: 'job-completed hook',
};

/** The hook as the job's log names it: `job-started hook /etc/valkyrie/started.sh`. */
export function hookName(kind: HookKind, file: string): string {
  return `${hookLabel[kind]} ${file}`;
}

/**
 * Runs the hook script `file` with bash, in the job's workspace, with the runner's environment and the
 * GITHUB_* / RUNNER_* variables a step of the job gets; its output goes to the job's log as lines of
 * the job (not of a step), after a line naming it. Returns undefined when it exited 0, else why the job
 * fails, which the log says too.
 */
export async function runJobHook(kind: HookKind, file: string, run: HookRun): Promise<string | undefined> {
  const name = hookName(kind, file);
  run.log('system', `running the ${name}`);
  const env = {
    ...run.baseEnv,
    ...defaultVariables(
      run.spec,
      run.host,
      run.directories,
      `__${kind}_hook`,
      stepFiles(run.directories, `${kind}-hook`),
    ),
  };
  const outcome = await run.executor.run(
    {
      command: 'bash',
      args: ['-e', file],
      cwd: run.spec.workspace,
      env,
      timeoutMs: timerDelay(run.spec.timeoutMs),
    },
    { signal: run.signal, killSignal: run.killSignal, onLine: (line) => run.log(line.stream, line.text) },
  );
  const failure = failureOf(outcome);
  if (failure === undefined) return undefined;
  const reason = `the ${name} ${failure}`;
  run.log('system', `error: ${reason}`);
  return reason;
}

function failureOf(outcome: ProcessOutcome): string | undefined {
  switch (outcome.kind) {
    case 'exited':
      return outcome.exitCode === 0 ? undefined : `failed (exit code ${outcome.exitCode})`;
    case 'timed_out':
      return 'ran past the job timeout';
    case 'cancelled':
      return `was stopped: ${outcome.reason}`;
    case 'failed_to_start':
      return `could not start: ${outcome.message}`;
  }
}
