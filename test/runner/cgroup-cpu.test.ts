import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/runner/capabilities.js';
import { cgroupCpuLimit } from '../../src/runner/cgroup-cpu.js';

/**
 * The CPU quota of a cgroup, read from real files: each test writes a machine's `/proc/self/cgroup`,
 * `/proc/self/mountinfo` and cgroup files under a directory that stands for `/`.
 */
describe('cgroupCpuLimit', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A `/` made of `files` (path → content). */
  function systemRoot(files: Readonly<Record<string, string>>): string {
    const root = mkdtempSync(join(tmpdir(), 'valkyrie-cgroup-'));
    dirs.push(root);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return root;
  }

  // As a cgroup v2 machine mounts it (systemd's optional fields before the separator).
  const v2Mount =
    '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n';

  it('is the quota of a container started with docker run --cpus (cgroup v2, its own namespace), rounded up', () => {
    const container = (cpuMax: string) =>
      systemRoot({
        'proc/self/cgroup': '0::/\n',
        'proc/self/mountinfo': `1 0 0:1 / / rw - overlay overlay rw\n${v2Mount}`,
        'sys/fs/cgroup/cpu.max': cpuMax,
      });
    expect(cgroupCpuLimit(container('200000 100000\n'))).toBe(2);
    expect(cgroupCpuLimit(container('150000 100000\n'))).toBe(2);
    expect(cgroupCpuLimit(container('5000 100000\n'))).toBe(1);
    expect(cgroupCpuLimit(container('max 100000\n'))).toBeUndefined();
  });

  it("reads the process's own cgroup and those above it, the lowest quota winning", () => {
    const root = systemRoot({
      'proc/self/cgroup': '0::/system.slice/runner.service\n',
      'proc/self/mountinfo': v2Mount,
      // The root cgroup has no cpu.max; the slice allows 3 CPUs, the service 6 (the slice's 3 bind it).
      'sys/fs/cgroup/system.slice/cpu.max': '300000 100000\n',
      'sys/fs/cgroup/system.slice/runner.service/cpu.max': '600000 100000\n',
      // Another service's quota is not the runner's.
      'sys/fs/cgroup/system.slice/other.service/cpu.max': '100000 100000\n',
    });
    expect(cgroupCpuLimit(root)).toBe(3);
  });

  it('reads cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, where a container bind-mounts its own cgroup', () => {
    const files = (quota: string) => ({
      'proc/self/cgroup': '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n',
      'proc/self/mountinfo':
        '30 25 0:26 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n' +
        '31 25 0:27 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': quota,
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuLimit(systemRoot(files('250000\n')))).toBe(3);
    expect(cgroupCpuLimit(systemRoot(files('-1\n')))).toBeUndefined();
  });

  // A cgroup outside the reader's cgroup namespace shows as `/..` in /proc/self/cgroup (a process
  // moved out of its namespace's subtree), a mount made from another namespace as a root of `/..`:
  // the mount point is then not where that path leads, and another cgroup's quota is not this one's.
  it("reads no quota for a cgroup that lies outside what the namespace's mount shows", () => {
    const outside = systemRoot({
      'proc/self/cgroup': '0::/../sibling\n',
      'proc/self/mountinfo': v2Mount,
      'sys/fs/cgroup/cpu.max': '100000 100000\n',
      'sys/fs/cgroup/sibling/cpu.max': '100000 100000\n',
    });
    expect(cgroupCpuLimit(outside)).toBeUndefined();
    const mountedFromAbove = systemRoot({
      'proc/self/cgroup': '0::/job\n',
      'proc/self/mountinfo': '1663 1661 0:27 /../.. /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n',
      'sys/fs/cgroup/job/cpu.max': '100000 100000\n',
    });
    expect(cgroupCpuLimit(mountedFromAbove)).toBeUndefined();
  });

  it('is undefined when nothing can be read, or the files are not what a kernel writes', () => {
    expect(cgroupCpuLimit(systemRoot({}))).toBeUndefined();
    const odd = systemRoot({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': v2Mount,
      'sys/fs/cgroup/cpu.max': 'lots 0\n',
    });
    expect(cgroupCpuLimit(odd)).toBeUndefined();
  });

  it("caps detectCapabilities' cpuCount by the quota", async () => {
    const root = systemRoot({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': v2Mount,
      'sys/fs/cgroup/cpu.max': '100000 100000\n',
    });
    const caps = await detectCapabilities({ workDir: root, env: {}, tools: [], systemRoot: root });
    expect(caps.cpuCount).toBe(1);
    const none = systemRoot({});
    const free = await detectCapabilities({ workDir: none, env: {}, tools: [], systemRoot: none });
    expect(free.cpuCount).toBe(availableParallelism());
  });
});
