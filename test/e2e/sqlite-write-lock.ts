import { type ChildProcess, spawn } from 'node:child_process';
import { expect } from 'vitest';
import { collect } from './cli.js';

/** A process holding SQLite's write lock on `path` (BEGIN EXCLUSIVE) until `release()` or `afterMs`. */
export async function holdWriteLock(path: string, afterMs?: number): Promise<{ release(): Promise<void> }> {
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN EXCLUSIVE');
    const release = () => { db.exec('COMMIT'); db.close(); process.exit(0); };
    process.on('SIGTERM', release);
    if (process.argv[2] !== '') setTimeout(release, Number(process.argv[2]));
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script, path, String(afterMs ?? '')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = collect(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return {
    async release() {
      child.kill('SIGTERM');
      expect((await exited).code).toBe(0);
    },
  };
}
