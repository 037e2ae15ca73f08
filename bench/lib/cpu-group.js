// CPU accounting for a whole process tree, detached descendants included: Valkyrie's step spawner
// runs in a session of its own that nobody of ours waits for, so the waited-children CPU of
// /proc/self/stat (cutime + cstime) misses it and every step it reaped. A control group counts every
// process that ever ran in it. cgroup v1's cpuacct (cpuacct.usage, ns) or v2's cpu.stat
// (usage_usec); null where neither can be made (no cgroupfs, or not root).
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const hierarchies = [
  { root: '/sys/fs/cgroup/cpuacct', usageMs: (dir) => Number(read(dir, 'cpuacct.usage')) / 1e6 },
  { root: '/sys/fs/cgroup', v2: true },
  { root: '/sys/fs/cgroup/unified', v2: true },
];

let made = 0;

/**
 * A new, empty group, or null. `procs` is the file a process writes its pid to in order to join
 * (its children then start inside); `usageMs()` is the CPU of every process that ran in it so far;
 * `drained()` waits until no process is left in it (up to `timeoutMs`); `remove()` deletes it.
 */
export function newCpuGroup() {
  for (const hierarchy of hierarchies) {
    const v2 = hierarchy.v2 === true;
    if (
      v2
        ? !existsSync(join(hierarchy.root, 'cgroup.controllers'))
        : !existsSync(join(hierarchy.root, 'cpuacct.usage'))
    )
      continue;
    const dir = join(hierarchy.root, `valkyrie-bench-${process.pid}-${++made}`);
    try {
      mkdirSync(dir);
    } catch {
      continue;
    }
    const usageMs = v2 ? () => v2UsageMs(dir) : () => hierarchy.usageMs(dir);
    if (!Number.isFinite(usageMs())) {
      rmdirSync(dir);
      continue;
    }
    return {
      procs: join(dir, 'cgroup.procs'),
      usageMs,
      async drained(timeoutMs = 5000) {
        const until = performance.now() + timeoutMs;
        while (read(dir, 'cgroup.procs').trim() !== '') {
          if (performance.now() > until)
            throw new Error(`processes still running in ${dir} after ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
      remove() {
        rmdirSync(dir);
      },
    };
  }
  return null;
}

function v2UsageMs(dir) {
  const line = read(dir, 'cpu.stat')
    .split('\n')
    .find((entry) => entry.startsWith('usage_usec '));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]) / 1000;
}

function read(dir, file) {
  return readFileSync(join(dir, file), 'utf8');
}

/** Moves the calling shell into the group before it execs the command: `sh -c joinAndExec procs cmd args…`. */
export const joinAndExec = 'echo $$ > "$0" && exec "$@"';
