import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Engine, openEngine } from '../../src/library/engine.js';
import type { EngineOptions, EngineStoreOptions } from '../../src/library/options.js';
import { helperAfterEach } from '../helper-hooks.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';

/** Every store kind an engine runs on, with why it is skipped here (Postgres absent), if it is. */
export const engineStoreKinds: ReadonlyArray<
  readonly [string, () => Promise<EngineStoreOptions>, string | undefined]
> = [
  ['memory', async () => 'memory', undefined],
  ['sqlite', sqliteStore, undefined],
  ['postgres', postgresStore, postgresSkipReason],
];

/** The durable ones. */
export const durableStoreKinds = engineStoreKinds.filter(([name]) => name !== 'memory');

const cleanups: (() => Promise<void>)[] = [];
const engines: Engine[] = [];
helperAfterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.destroy()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** An engine on `store`, one thread, destroyed after the test. */
export async function openOn(store: EngineStoreOptions, options: EngineOptions = {}): Promise<Engine> {
  const engine = await openEngine({ pool: { minThreads: 1, maxThreads: 1 }, store, ...options });
  engines.push(engine);
  return engine;
}

async function sqliteStore(): Promise<EngineStoreOptions> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-engine-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { kind: 'sqlite', path: join(dir, 'state.db'), leaseTtlMs: 300 };
}

async function postgresStore(): Promise<EngineStoreOptions> {
  const schema = uniqueSchema();
  cleanups.push(() => dropSchema(schema));
  return { kind: 'postgres', url: postgresUrl, schema, leaseTtlMs: 300 };
}
