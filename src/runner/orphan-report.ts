import type { Executor } from '../executors/contract.js';
import { ShellExecutor, type StoppedOrphan } from '../executors/shell/index.js';
import type { JobSpec } from '../protocol/job-spec.js';

/**
 * What a job left running in a session of its own was stopped after it ended, as one line, with
 * each process as GitHub's runner names it in "Terminate orphan process: pid (N) (name)".
 */
export function orphansStoppedLine(job: JobSpec, stopped: readonly StoppedOrphan[]): string {
  const processes = stopped.map(({ pid, name }) => `pid ${pid} (${name})`).join(', ');
  const count = stopped.length === 1 ? 'a process' : `${stopped.length} processes`;
  return (
    `job "${job.name}" (${job.jobId}) left ${count} running in a session of its own; ` +
    `stopped after the job ended: ${processes}`
  );
}

/**
 * The agent's `createExecutor` for shell executors that tell `report`, in one line per job, which
 * processes the job left behind were stopped. The sweep that finds them runs after the job's end,
 * when its log is closed (the control plane refuses lines once the job's completion released its
 * lease), so the line goes where the runner's own do.
 */
export function reportingShellExecutors(report: (line: string) => void): (job: JobSpec) => Executor {
  return (job) =>
    new ShellExecutor({ onOrphansStopped: (stopped) => report(orphansStoppedLine(job, stopped)) });
}
