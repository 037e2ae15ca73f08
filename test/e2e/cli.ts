import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const valkyrieBin = resolve(import.meta.dirname, '../../bin/valkyrie.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A scratch workspace with its own state directory, removed by `dispose`. */
export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'valkyrie-e2e-'));

  /** Writes `name` (which may be in folders, made as needed) in the workspace. */
  write(name: string, content: string): string {
    const path = join(this.dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  /** `cwd` defaults to the workspace; pass `--state-dir` too when it is another directory. */
  start(args: readonly string[], env: Record<string, string> = {}, cwd = this.dir): ChildProcess {
    // FORCE_COLOR from the shell running the tests would beat NO_COLOR (as in Node): dropped.
    const { FORCE_COLOR: _forced, ...inherited } = process.env;
    return spawn(process.execPath, [valkyrieBin, ...args], {
      cwd,
      env: { ...inherited, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  run(args: readonly string[], env: Record<string, string> = {}, cwd = this.dir): Promise<CliResult> {
    return collect(this.start(args, env, cwd));
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** The parsed NDJSON events of a `--json` run. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A job of `valkyrie show --json`: its latest attempt, and the earlier ones. */
export interface ShownJob {
  name: string;
  status: string;
  attempt?: number;
  attempts: { attempt: number; status: string }[];
}

export interface Summary {
  readonly type: string;
  readonly status: string;
  readonly jobs: { name: string; status: string; durationMs: number }[];
}

export function summary(stdout: string): Summary {
  const last = events(stdout).at(-1);
  if (last?.type !== 'run.completed')
    throw new Error(`last line is not run.completed: ${JSON.stringify(last)}`);
  return last as unknown as Summary;
}

export function statuses(stdout: string): Record<string, string> {
  return Object.fromEntries(summary(stdout).jobs.map((job) => [job.name, job.status]));
}

export function logLines(stdout: string, job?: string): string[] {
  return events(stdout)
    .filter((event) => event.type === 'log' && (job === undefined || event.job === job))
    .map((event) => String(event.text));
}

/**
 * Waits until the store has `job` of run `runId` as `status` (`valkyrie show --json`). Writes are
 * group-committed behind the work, so this is how a test knows a state is durable before it kills.
 */
export async function waitForJobStatus(
  ws: Workspace,
  runId: string,
  job: string,
  status: string,
  dbArgs: readonly string[] = [],
): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const shown = await ws.run(['show', runId, '--json', ...dbArgs]);
    if (shown.code === 0) {
      const detail = JSON.parse(shown.stdout) as { jobs: { name: string; status: string }[] };
      if (detail.jobs.some((candidate) => candidate.name === job && candidate.status === status)) return;
    }
    if (Date.now() > deadline) throw new Error(`job ${job} was not stored as ${status}: ${shown.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
