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

/** A server's address without credentials, for the settings table. */
export function describeUrl(url) {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}

/** What a BullMQ write survives depends on Redis's persistence settings; read them rather than assume. */
export function redisDurability() {
  const config = command('redis-cli', ['config', 'get', 'append*']).split('\n');
  const value = (key) => config[config.indexOf(key) + 1] ?? '?';
  const version = command('redis-cli', ['info', 'server']).match(/redis_version:(\S+)/)?.[1] ?? '?';
  return config.includes('appendonly')
    ? `Redis ${version}, appendonly ${value('appendonly')}, appendfsync ${value('appendfsync')}`
    : 'Redis settings unknown';
}

/** Versions of the queue peers as installed. */
export function peerVersions(repoRoot) {
  const version = (name) => {
    try {
      return JSON.parse(readFileSync(`${repoRoot}/node_modules/${name}/package.json`, 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  const postgres = command('psql', [
    '-Atc',
    'SHOW server_version',
    process.env.VALKYRIE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  ]);
  return `bullmq ${version('bullmq')}, ioredis ${version('ioredis')}, graphile-worker ${version('graphile-worker')}, pg ${version('pg')}; PostgreSQL ${postgres}`;
}
