import { type Engine, openEngine } from '../../src/library/engine.js';
import type { EngineEvent } from '../../src/library/events.js';
import type { EngineOptions } from '../../src/library/options.js';
import { helperAfterEach } from '../helper-hooks.js';

export function fixture(file = 'tasks.mjs'): URL {
  return new URL(`./fixtures/${file}`, import.meta.url);
}

const open: Engine[] = [];
helperAfterEach(async () => {
  await Promise.all(open.splice(0).map((engine) => engine.destroy()));
});

const cleanups: (() => Promise<unknown>)[] = [];
// Registered after the engines' hook, so run before it: as when each test file had its own.
helperAfterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `cleanup` after the test (the last added first), before its engines are destroyed. */
export function afterTest(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

/** An engine destroyed after the test, with every event it emitted. */
export async function openTestEngine(
  options: EngineOptions = {},
): Promise<{ engine: Engine; events: EngineEvent[] }> {
  const engine = await openEngine({ pool: { minThreads: 1, maxThreads: 1 }, ...options });
  open.push(engine);
  const events: EngineEvent[] = [];
  engine.onEvent((event) => events.push(event));
  return { engine, events };
}

/** Resolves once `test` holds, looked at every 20 ms; fails after 20 s. */
export async function until(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
