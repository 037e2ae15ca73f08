import { Engine } from '../../src/library/engine.js';
import { openEngineStore } from '../../src/library/engine-store.js';
import { type EngineOptions, resolveEngineOptions } from '../../src/library/options.js';
import type { QueueStore } from '../../src/store/queue.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest } from './helpers.js';

export const postgres = durableKinds.find((kind) => kind.name === 'postgres');

/** A promise and what resolves it, for a test store to hold a call until another has happened. */
export function signal(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** `queue` with the calls named in `held` replaced; every other call goes to `queue` as it is. */
export function proxiedQueue(queue: QueueStore, held: Partial<QueueStore>): QueueStore {
  return new Proxy(queue, {
    get(target, key) {
      const replaced: unknown = Reflect.get(held, key);
      if (replaced !== undefined) return replaced;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * An engine (destroyed after the test) on a fresh Postgres schema whose queue store is `wrap`'s
 * proxy of the real one: real statements, in an order the test holds.
 */
export async function engineOnProxiedPostgres(
  options: Omit<EngineOptions, 'store'>,
  wrap: (queue: QueueStore) => QueueStore,
): Promise<Engine> {
  if (postgres === undefined) throw new Error('no postgres kind in durableKinds');
  const durable = await postgres.make(0);
  afterTest(() => durable.cleanup());
  const full: EngineOptions = { ...options, store: durable.store(30_000) };
  const resolved = resolveEngineOptions(full);
  const opened = await openEngineStore(resolved.store, resolved);
  if (opened === undefined) throw new Error('expected a Postgres store');
  const engine = new Engine(full, { ...opened, queue: wrap(opened.queue) });
  afterTest(() => engine.destroy());
  await engine.ready();
  return engine;
}
