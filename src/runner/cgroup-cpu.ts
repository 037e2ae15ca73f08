import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/**
 * How many CPUs a CFS quota lets this process use, rounded up (`docker run --cpus=1.5` gives 2): the
 * lowest quota of its own cgroup and of those above it (a parent's binds its children), cgroup v2's
 * `cpu.max` (`200000 100000`; `max 100000` is none) or cgroup v1's `cpu.cfs_quota_us` (-1 is none)
 * over `cpu.cfs_period_us`. Node 20's os.availableParallelism() sees the affinity mask (taskset,
 * cpuset) but not this. undefined when no quota is set, or none can be read (not Linux, no cgroup
 * file system, a cgroup outside what this mount namespace shows).
 *
 * `root` is where `/` is: the machine's own, or in tests a directory of real files standing for it.
 * The process's cgroups come from /proc/self/cgroup, where their hierarchies are mounted from
 * /proc/self/mountinfo (a container's own cgroup, without a cgroup namespace, is mounted as the
 * top of /sys/fs/cgroup/…: its mount root names it).
 */
export function cgroupCpuLimit(root = '/'): number | undefined {
  const cgroups = readText(join(root, 'proc/self/cgroup'));
  const mounts = readText(join(root, 'proc/self/mountinfo'));
  if (cgroups === undefined || mounts === undefined) return undefined;
  let lowest: number | undefined;
  for (const { mountPoint, cgroupDir, quota } of cpuHierarchies(cgroups, parseMounts(mounts))) {
    const top = join(root, mountPoint);
    for (let dir = join(top, cgroupDir); ; dir = dirname(dir)) {
      const cpus = quota(dir);
      if (cpus !== undefined) lowest = Math.min(lowest ?? cpus, cpus);
      if (dir === top || !dir.startsWith(top)) break;
    }
  }
  return lowest === undefined ? undefined : Math.max(1, Math.ceil(lowest));
}

interface CgroupMount {
  /** The cgroup shown at the mount point (`/` unless a sub-cgroup is bind-mounted there). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly superOptions: readonly string[];
}

interface CpuHierarchy {
  readonly mountPoint: string;
  /** The process's cgroup, relative to the mount point. */
  readonly cgroupDir: string;
  /** The CPUs the quota of the cgroup at `dir` allows (unrounded), if it sets one. */
  readonly quota: (dir: string) => number | undefined;
}

/** The cgroup v2 hierarchy and the v1 one with the cpu controller that this process is in, as mounted. */
function cpuHierarchies(cgroups: string, mounts: readonly CgroupMount[]): CpuHierarchy[] {
  const found: CpuHierarchy[] = [];
  for (const line of cgroups.split('\n')) {
    // `hierarchy-id:controllers:path`; the path may hold colons itself.
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    const [, id, controllers = '', path = ''] = match;
    const v2 = id === '0' && controllers === '';
    if (!v2 && !controllers.split(',').includes('cpu')) continue;
    const mount = mounts.find((each) =>
      v2 ? each.fsType === 'cgroup2' : each.fsType === 'cgroup' && each.superOptions.includes('cpu'),
    );
    if (mount === undefined) continue;
    // `..` in the path: the cgroup lies outside this process's cgroup namespace; in the mount's root:
    // it was mounted from another namespace. Either way, where the path leads under the mount point is
    // not known (posix.relative would drop the leading `..` of both, and read another cgroup's quota).
    if (path.split('/').includes('..') || mount.root.split('/').includes('..')) continue;
    const cgroupDir = posix.relative(mount.root, path);
    if (cgroupDir.startsWith('..')) continue;
    found.push({ mountPoint: mount.mountPoint, cgroupDir, quota: v2 ? cpuMax : cfsQuota });
  }
  return found;
}

/**
 * mountinfo's lines: `id parent major:minor root mount-point options [optional fields…] - fstype
 * source super-options`, with spaces and the like in paths written as octal escapes (`\040`).
 */
function parseMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const [, , , root, mountPoint] = before.split(' ');
    const [fsType, , superOptions] = after.split(' ');
    if (root === undefined || mountPoint === undefined || fsType === undefined) continue;
    mounts.push({
      root: unescapeOctal(root),
      mountPoint: unescapeOctal(mountPoint),
      fsType,
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return mounts;
}

function unescapeOctal(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 8)));
}

/** cgroup v2: `cpu.max` is `QUOTA PERIOD` in µs, QUOTA `max` when unlimited. */
function cpuMax(dir: string): number | undefined {
  const [quota, period] = (readText(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
  return quota === 'max' ? undefined : ratio(quota, period);
}

/** cgroup v1: `cpu.cfs_quota_us` (-1 when unlimited) over `cpu.cfs_period_us`. */
function cfsQuota(dir: string): number | undefined {
  return ratio(
    readText(join(dir, 'cpu.cfs_quota_us'))?.trim(),
    readText(join(dir, 'cpu.cfs_period_us'))?.trim(),
  );
}

/** quota / period when both are positive whole numbers, as a kernel writes them; else undefined. */
function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period))
    return undefined;
  const [q, p] = [Number(quota), Number(period)];
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
