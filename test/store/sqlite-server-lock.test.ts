import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireServerLock, type ServerLock, serverLockFile } from '../../src/store/sqlite/server-lock.js';

const dirs: string[] = [];
const locks: ServerLock[] = [];

afterEach(() => {
  for (const lock of locks.splice(0)) lock.release();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-server-lock-'));
  dirs.push(dir);
  return join(dir, 'valkyrie.db');
}

function acquired(db: string): ServerLock {
  const outcome = acquireServerLock(serverLockFile(db));
  if (outcome.kind !== 'acquired') throw new Error(`expected the lock, got ${JSON.stringify(outcome)}`);
  locks.push(outcome.lock);
  return outcome.lock;
}

// The child runs plain Node, so it uses dist/: `npm run build` first.
const module = pathToFileURL(join(import.meta.dirname, '../../dist/store/sqlite/server-lock.js')).href;

/** A child process that takes the lock, says so, and holds it until it is killed. */
function holdInChild(db: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireServerLock, serverLockFile } = await import(${JSON.stringify(module)});
       const outcome = acquireServerLock(serverLockFile(${JSON.stringify(db)}));
       process.stdout.write(outcome.kind + '\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (line: string) => {
      if (line.trim() !== 'acquired') reject(new Error(`child: ${line}`));
      resolve({
        pid: child.pid ?? 0,
        kill: () => {
          child.kill('SIGKILL');
          return exited;
        },
      });
    });
    child.once('error', reject);
  });
}

describe('the server lock of a SQLite state file', () => {
  it('is held against a second taker, who is told who holds it, and taken again once released', () => {
    const db = stateFile();
    const first = acquired(db);
    const second = acquireServerLock(serverLockFile(db));
    expect(second).toMatchObject({
      kind: 'held',
      file: `${db}-server.lock`,
      holder: { pid: process.pid, host: hostname() },
    });
    first.release();
    first.release();
    acquired(db);
  });

  it('is let go when its process is killed', async () => {
    const db = stateFile();
    const child = await holdInChild(db);
    expect(acquireServerLock(serverLockFile(db))).toMatchObject({ kind: 'held', holder: { pid: child.pid } });
    await child.kill();
    acquired(db);
  });
});
