import { spawn } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fitCapabilities } from '../protocol/capability-bounds.js';
import type { RunnerCapabilities } from '../protocol/messages.js';
import { cgroupCpuLimit } from './cgroup-cpu.js';
import { dockerTlsFilesNote, pingDocker } from './docker-ping.js';

export interface CapabilityOptions {
  /** Free disk is measured on this directory's file system. */
  readonly workDir: string;
  /** `PATH` (to find the tools) and `DOCKER_HOST`; default the process's own. */
  readonly env?: NodeJS.ProcessEnv;
  /** Per probe; a tool that does not answer in time counts as missing. Default 3 s. */
  readonly timeoutMs?: number;
  readonly tools?: readonly ToolProbe[];
  /** Stops the probes still running (their parts are left out). */
  readonly signal?: AbortSignal;
  /**
   * Told why a part is left out when the runner's own settings say why (TLS files DOCKER_CERT_PATH
   * lacks), at each detection that finds it so.
   */
  readonly warn?: (line: string) => void;
  /** Where `/` is for the cgroup files (cgroupCpuLimit): the machine's, or a directory of them in tests. */
  readonly systemRoot?: string;
}

/**
 * How to ask a tool its version: the first `1.2[.3…]` in the first line of its output (stdout, then
 * stderr) is kept, or with `version`, its first group's first match anywhere in stdout, then stderr.
 */
export interface ToolProbe {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly version?: RegExp;
}

export const defaultTools: readonly ToolProbe[] = [
  { name: 'git', command: 'git', args: ['--version'] },
  { name: 'bash', command: 'bash', args: ['--version'] },
  { name: 'node', command: 'node', args: ['--version'] },
  { name: 'python3', command: 'python3', args: ['--version'] },
  { name: 'go', command: 'go', args: ['version'] },
  // Java prints its version on stderr, after a `Picked up JAVA_TOOL_OPTIONS: …` line when that (or
  // _JAVA_OPTIONS) is set, and a release with no update yet as `openjdk version "21" 2023-09-19`.
  { name: 'java', command: 'java', args: ['-version'], version: /version "([^"\s]+)"/ },
];

const defaultTimeoutMs = 3_000;

/**
 * What this machine offers a job: OS, CPU, memory, free disk, GPUs (`nvidia-smi`), a reachable Docker
 * API and tool versions. Every probe runs in parallel under its own timeout; one that fails or times
 * out leaves its part absent instead of failing the whole detection. Fitted to the protocol's bounds
 * (fitCapabilities): what an odd machine detects (a hundred GPUs, a shim printing a long version) is
 * cut, not sent for the server to refuse.
 */
export async function detectCapabilities(options: CapabilityOptions): Promise<RunnerCapabilities> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const probes = options.tools ?? defaultTools;
  // In the work dir, where jobs run: a shim (pyenv, asdf, jenv) answers for the version files there,
  // not for those of the directory the runner happened to be started in.
  const limits = { env, cwd: options.workDir, timeoutMs, signal: options.signal };
  const [diskFreeBytes, gpus, docker, versions] = await Promise.all([
    freeDisk(options.workDir),
    detectGpus(limits),
    pingDocker(env, timeoutMs),
    Promise.all(probes.map((probe) => toolVersion(probe, limits))),
  ]);
  if (docker === undefined) {
    const note = dockerTlsFilesNote(env);
    if (note !== undefined) options.warn?.(note);
  }
  const tools: Record<string, string> = {};
  probes.forEach((probe, i) => {
    const version = versions[i];
    if (version !== undefined) tools[probe.name] = version;
  });
  const processors = cpus();
  return fitCapabilities({
    os: process.platform,
    arch: process.arch,
    // The CPUs this process (and so each job it starts) may run on: its affinity mask (taskset, a
    // cpuset cgroup, docker --cpuset-cpus), not every CPU of the machine, which cpus() lists; fewer
    // when a CFS quota (docker --cpus) allows less.
    cpuCount: Math.min(
      availableParallelism(),
      cgroupCpuLimit(options.systemRoot) ?? Number.POSITIVE_INFINITY,
    ),
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    memoryBytes: usableMemory(totalmem(), process.constrainedMemory()),
    ...(diskFreeBytes === undefined ? {} : { diskFreeBytes }),
    gpus,
    ...(docker === undefined ? {} : { docker }),
    tools,
    detectedAt: Date.now(),
  });
}

/**
 * The machine's memory, or the cgroup limit of this process (a container's `--memory`) when that is
 * lower. `constrained` is process.constrainedMemory(): 0 when there is no limit or it is unknown,
 * and on Node 20 the unlimited value itself (2^64, as the cgroup reads it) when there is none.
 */
export function usableMemory(total: number, constrained: number): number {
  return constrained > 0 && constrained < total ? constrained : total;
}

async function freeDisk(dir: string): Promise<number | undefined> {
  try {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/** `nvidia-smi` lines look like `NVIDIA T4, 15360 MiB`. */
export function parseNvidiaSmi(output: string): RunnerCapabilities['gpus'] {
  const gpus: { name: string; memoryMiB?: number }[] = [];
  for (const line of output.split('\n')) {
    const [name, memory] = line.split(',').map((part) => part.trim());
    if (!name) continue;
    const mib = /^(\d+)\s*MiB$/i.exec(memory ?? '')?.[1];
    gpus.push(mib === undefined ? { name } : { name, memoryMiB: Number(mib) });
  }
  return gpus;
}

interface ProbeLimits {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

async function detectGpus(limits: ProbeLimits): Promise<RunnerCapabilities['gpus']> {
  const args = ['--query-gpu=name,memory.total', '--format=csv,noheader'];
  const output = await run('nvidia-smi', args, limits);
  return output === undefined || output.exitCode !== 0 ? [] : parseNvidiaSmi(output.stdout);
}

/** The first version number in `text`: `git version 2.39.5` → `2.39.5`, `v20.19.0` → `20.19.0`. */
export function versionIn(text: string): string | undefined {
  return /(\d+\.\d+(?:\.\d+)*(?:[-_+][0-9A-Za-z.]+)?)/.exec(text)?.[1];
}

async function toolVersion(probe: ToolProbe, limits: ProbeLimits): Promise<string | undefined> {
  const output = await run(probe.command, probe.args, limits);
  if (output === undefined || output.exitCode !== 0) return undefined;
  if (probe.version !== undefined)
    return (probe.version.exec(output.stdout) ?? probe.version.exec(output.stderr))?.[1];
  const firstLine = (text: string) => text.split('\n').find((line) => line.trim() !== '') ?? '';
  return versionIn(firstLine(output.stdout)) ?? versionIn(firstLine(output.stderr));
}

/** What a probe keeps of each stream: a version is in its first lines. */
const maxProbeOutput = 64 * 1024;

/**
 * undefined when it could not start (not installed) or did not end within the timeout. Each probe is
 * a process group of its own (spawn's `detached`, which execFile does not pass on), killed whole when
 * it is late: a wrapper script (a shim) whose own child hangs would otherwise leave that child behind
 * at every detection, and hold its output open.
 */
function run(
  command: string,
  args: readonly string[],
  { env, cwd, timeoutMs, signal }: ProbeLimits,
): Promise<{ exitCode: number; stdout: string; stderr: string } | undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    const output = { stdout: '', stderr: '' };
    let settled = false;
    const settle = (result: { exitCode: number; stdout: string; stderr: string } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      resolve(result);
    };
    // Not spawn's own `signal` or `timeout`: aborting a child whose spawn is failing (a tool that is
    // not installed) makes Node kill pid 0, i.e. SIGTERM to this process's whole group — the runner
    // and whatever started it; and either kills only the child. Only a group that started is killed.
    const child = spawn(command, [...args], { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        if (output[stream].length < maxProbeOutput) output[stream] += chunk;
      });
    }
    child.on('error', () => settle(undefined));
    child.on('close', (exitCode) => settle(exitCode === null ? undefined : { exitCode, ...output }));
    function stop(): void {
      settle(undefined);
      if (child.pid === undefined || child.pid <= 0) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
      // A process that left the group may still hold the pipes; nothing more is read from them.
      child.stdout.destroy();
      child.stderr.destroy();
    }
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
