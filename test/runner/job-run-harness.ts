import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import type { JobSpec } from '../../src/protocol/job-spec.js';
import type { LogEntry, StepReport } from '../../src/protocol/messages.js';
import { type JobRunOptions, type JobRunResult, runJob } from '../../src/runner/job-run.js';
import { TaskPoolHolder } from '../../src/runner/task-pool.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

export interface JobRunRecord extends JobRunResult {
  readonly logs: LogEntry[];
  readonly steps: StepReport[];
  /** The text of every log line of step `index` (-1: the job's own), in order. */
  readonly lines: (index: number) => string[];
  /** The names the steps started under, in order. */
  readonly started: string[];
}

/**
 * Runs the first job of `yaml` with runJob on the shell executor, in `workspace`, with no control
 * plane: for tests of what a runner does with one job's steps.
 */
export async function runFirstJob(
  yaml: string,
  workspace: string,
  contexts: Partial<JobSpec['contexts']> = {},
  file: Pick<JobSpec, 'workflowFile'> = {},
  /** The runner operator's hooks, the job's cancel signal (default: never aborted) and its timeout (default 60 s). */
  extra: Pick<JobRunOptions, 'hooks'> &
    Partial<Pick<JobRunOptions, 'signal' | 'shutdownSignal'> & Pick<JobSpec, 'timeoutMs'>> = {},
): Promise<JobRunRecord> {
  const { workflow, diagnostics } = parseWorkflow(yaml, 'w.yml');
  if (!workflow) throw new Error(`workflow did not parse: ${JSON.stringify(diagnostics)}`);
  const [job] = workflow.jobs.values();
  if (!job) throw new Error('no job');
  const spec: JobSpec = {
    runId: 'run_1',
    jobId: 'job_1',
    key: job.key,
    name: job.key,
    attempt: 1,
    workspace,
    workflowEnv: workflow.env,
    jobEnv: job.env,
    defaults: { ...workflow.defaults, ...job.defaults },
    steps: job.steps,
    outputs: job.outputs,
    timeoutMs: extra.timeoutMs ?? 60_000,
    contexts: {
      github: {},
      vars: {},
      secrets: {},
      matrix: {},
      strategy: {},
      needs: {},
      inputs: {},
      ...contexts,
    },
    ...file,
  };
  const root = mkdtempSync(join(tmpdir(), 'vk-job-run-'));
  const directories = { temp: join(root, 'temp'), files: join(root, 'files'), toolCache: join(root, 'tc') };
  for (const dir of Object.values(directories)) mkdirSync(dir);
  const logs: LogEntry[] = [];
  const steps: StepReport[] = [];
  const started: string[] = [];
  const taskPool = new TaskPoolHolder();
  try {
    const result = await runJob(spec, {
      executor: new ShellExecutor({ launcher: 'in-process' }),
      reporter: {
        stepStarted: (_index, name) => started.push(name),
        log: (entry) => logs.push(entry),
        stepCompleted: (step) => steps.push(step),
      },
      host: { os: 'Linux', arch: 'X64', name: 'test' },
      directories,
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      signal: extra.signal ?? new AbortController().signal,
      killSignal: new AbortController().signal,
      taskPool,
      ...(extra.hooks === undefined ? {} : { hooks: extra.hooks }),
      ...(extra.shutdownSignal === undefined ? {} : { shutdownSignal: extra.shutdownSignal }),
    });
    const lines = (index: number) => logs.filter((l) => l.stepIndex === index).map((l) => l.text);
    return { ...result, logs, steps, lines, started };
  } finally {
    await taskPool.close();
    rmSync(root, { recursive: true, force: true });
  }
}
