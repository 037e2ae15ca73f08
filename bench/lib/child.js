import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { joinAndExec, newCpuGroup } from './cpu-group.js';

const clockTicksPerSecond = readClockTicks();

/**
 * Runs a command to completion and times it from just before spawn() to 'close'. `cpuMs` is the
 * user+system CPU of the child and of every descendant it waited for (the parent's cutime+cstime
 * delta from /proc/self/stat), so it is only meaningful while no other child of ours runs — the
 * bench runs one at a time. Null where /proc is missing.
 *
 * `cpuGroup`: the child runs in a control group of its own (cpu-group.js, joined by a `sh` that then
 * execs the command), and `cpuMs` is the group's CPU once every process in it has exited: detached
 * descendants too, which the waited-children figure misses. `cpuFrom` says which was measured.
 */
export async function runChild(command, args, { cwd, env, cpuGroup = false } = {}) {
  const group = cpuGroup ? newCpuGroup() : null;
  if (group === null) return { ...(await run(command, args, { cwd, env })), cpuFrom: 'waited children' };
  let measured;
  try {
    const result = await run('/bin/sh', ['-c', joinAndExec, group.procs, command, ...args], { cwd, env });
    await group.drained();
    measured = { ...result, cpuMs: group.usageMs(), cpuFrom: 'control group' };
  } catch (error) {
    // Processes left in the group keep it from being removed (EBUSY): this error says why, so it wins.
    try {
      group.remove();
    } catch {}
    throw error;
  }
  group.remove();
  return measured;
}

function run(command, args, { cwd, env }) {
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuMs();
    const launchedAtMs = Date.now();
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const cpuAfter = childrenCpuMs();
      resolve({
        code,
        signal,
        launchedAtMs,
        wallMs,
        cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/** Fails loudly: a run that did not do the work it was asked to must not become a number. */
export function assertExitedCleanly(result, what) {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited with ${result.code ?? result.signal}\n--- stderr ---\n${result.stderr.slice(-4000)}`,
    );
  }
}

function childrenCpuMs() {
  if (clockTicksPerSecond === null) return null;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name start at field 3 (state); cutime and cstime are 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
    return (ticks * 1000) / clockTicksPerSecond;
  } catch {
    return null;
  }
}

function readClockTicks() {
  try {
    readFileSync('/proc/self/stat');
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return null;
  }
}
