import { expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import type { JobOptions } from '../../src/library/options.js';
import { fixture, openTestEngine } from './helpers.js';

/** The VK_… error `call` throws or rejects with, as `code: message`; a TypeError here was a crash in the check. */
async function refusal(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return `${String(code)}: ${String(message)}`;
  }
  throw new Error('expected a refusal');
}

// A wrong value was shown with String(): an object as "[object Object]", a BigInt as the number it
// holds ("delayMs must be a number …; received 1000" for 1000n), and an object without a prototype
// made the check itself throw "TypeError: Cannot convert object to primitive value".
it('shows the wrong value it refuses as it is: objects, BigInts, null-prototype objects', async () => {
  const { engine } = await openTestEngine();
  const echo = engine.task('echo', { module: fixture() });
  const enqueueWith = (options: unknown) => () => engine.enqueue(echo, 1, options as JobOptions);
  expect(await refusal(enqueueWith({ retry: { backoff: { type: 'exponential', delay: 1000 } } }))).toBe(
    "VK_ENGINE_CONFIG: enqueue() options.retry.backoff must be one of 'fixed', 'linear', 'exponential', 'fibonacci'; received { type: 'exponential', delay: 1000 }",
  );
  expect(await refusal(enqueueWith({ delayMs: 1000n }))).toMatch(
    /options\.delayMs must be .*; received 1000n$/,
  );
  expect(await refusal(enqueueWith({ priority: Object.create(null) }))).toMatch(
    /^VK_ENGINE_CONFIG: enqueue\(\) options\.priority must be .*; received \[Object: null prototype\] \{\}$/,
  );
  expect(await refusal(() => openEngine({ agingIntervalMs: Object.create(null) }))).toMatch(
    /^VK_ENGINE_CONFIG: openEngine\(\): option "agingIntervalMs" must be .*; received \[Object: null prototype\] \{\}$/,
  );
  const bareId = Object.create(null);
  expect(await refusal(() => engine.runWorkflow({ nodes: [{ id: bareId, task: echo }], edges: [] }))).toMatch(
    /^VK_WORKFLOW_GRAPH: runWorkflow\(\): nodes\[0\]\.id must be a non-empty string; received \[Object: null prototype\] \{\}/,
  );
  expect(
    await refusal(() =>
      engine.runWorkflow({ nodes: [{ id: 'a', task: echo }], edges: [{ from: 'a', to: bareId }] }),
    ),
  ).toMatch(
    /^VK_WORKFLOW_GRAPH: runWorkflow\(\): edges\[0\]\.to names no node: received \[Object: null prototype\] \{\}/,
  );
});
