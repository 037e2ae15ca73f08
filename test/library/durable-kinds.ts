import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../src/core/clock.js';
import type { EngineStoreOptions } from '../../src/library/options.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';

/** A fresh durable store for one test: engine store options for it (`leaseTtlMs` given), and cleanup. */
export interface DurableKind {
  readonly name: string;
  readonly skip: string | undefined;
  make(leaseTtlMs: number): Promise<{
    readonly store: (leaseTtlMs: number) => EngineStoreOptions;
    /** The store's own stores on `clock`, outside any engine (closed at cleanup). */
    openStores(clock: Clock): Promise<Stores>;
    cleanup(): Promise<void>;
  }>;
}

export const durableKinds: readonly DurableKind[] = [
  {
    name: 'sqlite',
    skip: undefined,
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'valkyrie-engine-'));
      const path = join(dir, 'state.db');
      const opened: Stores[] = [];
      return {
        store: (leaseTtlMs) => ({ kind: 'sqlite', path, leaseTtlMs }),
        async openStores(clock) {
          const stores = openSqliteStores(path, { queue: { clock } });
          opened.push(stores);
          return stores;
        },
        async cleanup() {
          for (const stores of opened) await stores.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    skip: postgresSkipReason,
    async make() {
      const schema = uniqueSchema();
      const opened: Stores[] = [];
      return {
        store: (leaseTtlMs) => ({ kind: 'postgres', url: postgresUrl, schema, leaseTtlMs }),
        async openStores(clock) {
          const stores = await openPostgresStores(postgresUrl, { schema, queue: { clock } });
          opened.push(stores);
          return stores;
        },
        async cleanup() {
          for (const stores of opened) await stores.close();
          await dropSchema(schema);
        },
      };
    },
  },
];

const workerChild = fileURLToPath(new URL('./fixtures/worker-child.mjs', import.meta.url));

/**
 * A worker process on `store` (fixtures/worker-child.mjs, which loads dist/: build first), once it
 * printed "ready"; `lines` collects what it prints, `stop` sends SIGTERM and waits for its exit.
 */
export async function startWorkerProcess(store: EngineStoreOptions) {
  const child = spawn(process.execPath, [workerChild, JSON.stringify(store)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (data: Buffer) => {
      buffered += data.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (parts.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the worker process exited (${code}) before it was ready`)));
  });
  return {
    pid: child.pid,
    lines,
    async stop(): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
