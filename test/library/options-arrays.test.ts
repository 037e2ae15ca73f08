import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import type { EngineOptions, JobOptions, RetryPolicy } from '../../src/library/options.js';
import { fixture, openTestEngine } from './helpers.js';

/** What a JavaScript caller may pass where an options object belongs. */
const untyped = <T>(value: unknown): T => value as T;

describe('an array where an options object belongs', () => {
  it('is refused by openEngine: tasks are registered with engine.task(), not given to it', async () => {
    const tasks = [{ name: 'echo', module: fixture() }];
    for (const given of [[], tasks]) {
      await expect(openEngine(untyped<EngineOptions>(given))).rejects.toMatchObject({
        code: 'VK_ENGINE_CONFIG',
        message: expect.stringMatching(
          /^openEngine\(options\) must be an object of options, not an array: register each task with engine\.task\(name, \{ module, exportName\? \}\) once the engine is open; received \[/,
        ),
      });
    }
    await expect(openEngine({ retry: untyped<RetryPolicy>([]) })).rejects.toThrow(
      'openEngine(): option "retry" must be an object, not an array; received []',
    );
    await expect(openEngine({ pool: untyped<EngineOptions['pool']>([]) })).rejects.toThrow(
      'thread pool: option "options" must be an object, not an array; received an array',
    );
  });

  it('is refused as a job\'s or a node\'s options, rather than taken for "no options"', async () => {
    const { engine } = await openTestEngine();
    const echo = engine.task('echo', { module: fixture() });
    expect(() => engine.enqueue(echo, 1, untyped<JobOptions>([{ priority: 'high' }]))).toThrow(
      "enqueue() options must be an object, not an array; received [ { priority: 'high' } ]",
    );
    expect(() => engine.enqueue(echo, 1, { retry: untyped<RetryPolicy>([3]) })).toThrow(
      'enqueue() options.retry must be an object, not an array; received [ 3 ]',
    );
    expect(() => engine.enqueueMany([{ task: echo, input: 1 }, untyped([echo, 1])])).toThrow(
      'enqueueMany()[1] must be an object { task, input, options? }, not an array',
    );
    await expect(
      engine.runWorkflow({ nodes: [{ id: 'a', task: echo, options: untyped<JobOptions>([]) }], edges: [] }),
    ).rejects.toThrow('must be an object, not an array; received []');
    expect(engine.stats().unsettled).toBe(0);
  });
});
