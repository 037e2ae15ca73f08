import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';

/** What the numbers were measured on. Everything here is read, nothing assumed. */
export function describeMachine(repoRoot) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${osName()} (${os.type()} ${os.release()}, ${os.arch()})`,
    node: process.version,
    npm: command('npm', ['--version']),
    bash: command('bash', ['-c', 'echo "$BASH_VERSION"']),
    commit: command('git', ['-C', repoRoot, 'rev-parse', 'HEAD']),
    // dist/ is built from the working tree, so say whether that differs from the commit.
    uncommittedInSrc: command('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src'])
      .split('\n')
      .filter(Boolean).length,
    loadAverageAtStart: os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' '),
  };
}

export function filesystemType(path) {
  try {
    const magic = statfsSync(path).type;
    return (
      { 61267: 'ext4', 16914836: 'tmpfs', 1481003842: 'xfs', 2435016766: 'btrfs' }[magic] ??
      `0x${magic.toString(16)}`
    );
  } catch {
    return 'unknown';
  }
}

function osName() {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

function command(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
