import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TaskOutcome } from '../../../src/executors/thread/outcome.js';
import type { ThreadPool } from '../../../src/executors/thread/thread-pool.js';
import { fixture, openPool } from './helpers.js';

/** Runs `bad` alongside ordinary tasks on the same worker; returns bad's outcome once all settled. */
async function alongsideOthers(pool: ThreadPool, bad: Promise<TaskOutcome>): Promise<TaskOutcome> {
  const echo = pool.task<number, number>({ module: fixture('echo.mjs') });
  const others = Array.from({ length: 20 }, (_, i) => pool.run(echo, i));
  const [outcome, ...rest] = await Promise.all([bad, ...others]);
  expect(rest).toEqual(Array.from({ length: 20 }, (_, i) => ({ kind: 'succeeded', output: i })));
  expect(pool.stats()).toEqual({ threads: 1, queued: 0, running: 0 });
  return outcome as TaskOutcome;
}

describe('ThreadPool: bad task modules, throws and outputs are failed outcomes', () => {
  it('fails a task whose module does not exist, with the path in the message', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const missing = pool.task({ module: fixture('no-such-module.mjs') });
    const outcome = await alongsideOthers(pool, pool.run(missing, 1));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'module',
      error: { code: 'ERR_MODULE_NOT_FOUND' },
    });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(
      /^could not load task module file:.*no-such-module\.mjs: /,
    );
  });

  // Node 20 leaves the place out of an import()'s SyntaxError: the message said only "Unexpected
  // number", however long the module.
  it('fails a task whose module has a syntax error, naming the file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vk-syntax-'));
    try {
      const path = join(dir, 'broken.mjs');
      writeFileSync(path, 'export const a = 1;\n\nexport async function run( { return 1 }\n');
      const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
      const outcome = await alongsideOthers(
        pool,
        pool.run(pool.task({ module: path, exportName: 'run' }), 1),
      );
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'module', error: { name: 'SyntaxError' } });
      expect(outcome.kind === 'failed' && outcome.error.message).toBe(
        `could not load task module file://${path}: Unexpected number at ${path}:3:37`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a task whose module exports no function by that name, saying what it found', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const notFunction = pool.task({ module: fixture('not-a-function.mjs') });
    const noExport = pool.task({ module: fixture('not-a-function.mjs'), exportName: 'run' });
    const [defaultExport, missingExport] = await Promise.all([
      alongsideOthers(pool, pool.run(notFunction, 1)),
      pool.run(noExport, 1),
    ]);
    expect(defaultExport).toMatchObject({
      kind: 'failed',
      reason: 'module',
      error: { name: 'TaskModuleError' },
    });
    expect(defaultExport.kind === 'failed' && defaultExport.error.message).toContain(
      'does not export a function named "default": its export "default" is 42',
    );
    expect(missingExport.kind === 'failed' && missingExport.error.message).toContain(
      'it has no export "run" (exports: default, name)',
    );
  });

  it('keeps an Error’s name, message, stack and code', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const thrown = pool.task({ module: fixture('throws.mjs'), exportName: 'error' });
    const outcome = await alongsideOthers(pool, pool.run(thrown, 1));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'threw',
      error: { name: 'RangeError', message: 'the input was out of range', code: 'E_RANGE' },
    });
    expect(outcome.kind === 'failed' && outcome.error.stack).toContain('throws.mjs');
    const sync = pool.task({ module: fixture('throws.mjs'), exportName: 'syncError' });
    await expect(pool.run(sync, 1)).resolves.toMatchObject({
      kind: 'failed',
      error: { name: 'TypeError', message: 'thrown before any await' },
    });
  });

  it("keeps an Error's causes, each described as the error is", async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const chained = pool.task({ module: fixture('throws.mjs'), exportName: 'withCauses' });
    const outcome = await alongsideOthers(pool, pool.run(chained, 1));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'threw',
      error: {
        name: 'Error',
        message: 'the upload failed',
        cause: {
          name: 'TypeError',
          message: 'the connection was refused',
          code: 'E_MIDDLE',
          stack: expect.stringContaining('throws.mjs'),
          cause: { name: 'NonErrorCause', message: '{ status: 503 }' },
        },
      },
    });
    const loop = pool.task({ module: fixture('throws.mjs'), exportName: 'causeLoop' });
    const looped = await pool.run(loop, 1);
    expect(looped).toMatchObject({ kind: 'failed', error: { message: 'round and round' } });
    expect(looped.kind === 'failed' && looped.error.cause).toBeUndefined();
  });

  it("keeps an AggregateError's errors, each described as a cause is", async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const any = pool.task({ module: fixture('throws.mjs'), exportName: 'aggregate' });
    const outcome = await alongsideOthers(pool, pool.run(any, 1));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'threw',
      error: { name: 'AggregateError', message: 'All promises were rejected' },
    });
    // The fourth entry is the AggregateError itself: left out rather than described forever.
    expect(outcome.kind === 'failed' && outcome.error.errors).toEqual([
      {
        name: 'Error',
        message: 'connect ECONNREFUSED ::1:8080',
        code: 'ECONNREFUSED',
        stack: expect.stringContaining('throws.mjs'),
        cause: { name: 'Error', message: 'the socket closed', stack: expect.stringContaining('throws.mjs') },
      },
      { name: 'RangeError', message: 'timed out', stack: expect.stringContaining('throws.mjs') },
      { name: 'NonErrorValue', message: '503' },
    ]);
    const huge = pool.task({ module: fixture('throws.mjs'), exportName: 'hugeAggregate' });
    const many = await pool.run(huge, 1);
    expect(many.kind === 'failed' && many.error.errors?.length).toBe(100);
    expect(many.kind === 'failed' && many.error.errors?.[99]?.message).toBe('failure 99');
  });

  it('says why fetch failed: its cause, ECONNREFUSED from a port nothing listens on', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const fetches = pool.task({ module: fixture('throws.mjs'), exportName: 'fetches' });
    const outcome = await pool.run(fetches, `http://127.0.0.1:${port}/`);
    expect(outcome).toMatchObject({
      kind: 'failed',
      error: { name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } },
    });
    expect(outcome.kind === 'failed' && outcome.error.cause?.message).toContain('ECONNREFUSED');
  });

  it.each([
    ['string', "the task threw a non-Error value: 'a plain string'"],
    ['object', "the task threw a non-Error value: { status: 500, detail: 'an object, not an Error' }"],
    ['nothing', 'the task threw undefined'],
    ['rejectsNull', 'the task threw a non-Error value: null'],
  ])('describes a non-Error thrown value (%s)', async (exportName, message) => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const task = pool.task({ module: fixture('throws.mjs'), exportName });
    const outcome = await alongsideOthers(pool, pool.run(task, 1));
    expect(outcome).toEqual({ kind: 'failed', reason: 'threw', error: { name: 'NonErrorThrown', message } });
  });

  it('reads a thrown object with a string message as an Error, keeping name and string code only', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const task = pool.task({ module: fixture('throws.mjs'), exportName: 'errorShaped' });
    expect(await pool.run(task, 1)).toEqual({
      kind: 'failed',
      reason: 'threw',
      error: { name: 'Error', message: 'no quota', code: 'E_QUOTA' },
    });
  });

  // Each of these threw on the worker while the error was being described, and the uncaught
  // exception ended the worker: the task, and every task beside it, ended worker_lost / crashed.
  it.each([
    [
      'unreadableMessage',
      'threw',
      /^the task threw a value that could not be described \(Error: the message getter threw\)$/,
    ],
    [
      'hostileProxy',
      'threw',
      /^the task threw a value that could not be described \(Error: a proxy trap threw\)$/,
    ],
    // As `await` would: reading `then` threw, so the task rejected with that error.
    ['thenGetterThrows', 'threw', /^the then getter threw$/],
    ['thenMethodThrows', 'threw', /^the then method threw$/],
  ])(
    'fails only the task whose thrown or returned value cannot be read (%s)',
    async (exportName, reason, message) => {
      const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
      const task = pool.task({ module: fixture('throws.mjs'), exportName });
      const outcome = await alongsideOthers(pool, pool.run(task, 1));
      expect(outcome).toMatchObject({ kind: 'failed', reason });
      expect(outcome.kind === 'failed' && outcome.error.message).toMatch(message);
    },
  );

  it.each([
    ['returnsFunction', 'a function (notCloneable)'],
    ['returnsSymbol', 'a symbol (Symbol(not cloneable))'],
  ])('fails a task whose output cannot be copied back (%s)', async (exportName, what) => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const task = pool.task({ module: fixture('unserialisable.mjs'), exportName });
    const outcome = await alongsideOthers(pool, pool.run(task, 1));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'output',
      error: { name: 'UnserializableOutput' },
    });
    expect(outcome.kind === 'failed' && outcome.error.message).toContain(
      `the task returned ${what}, which cannot be copied to the main thread`,
    );
  });

  it('drops a progress value that cannot be copied, with a warning, and the task still succeeds', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const task = pool.task({ module: fixture('unserialisable.mjs'), exportName: 'progressFunction' });
    const logs: string[] = [];
    const outcome = await pool.run(task, 1, {
      onLog: (entry) => logs.push(`${entry.level}: ${entry.message}`),
    });
    expect(outcome).toEqual({ kind: 'succeeded', output: 'still fine' });
    expect(logs).toEqual([expect.stringMatching(/^warn: a progress value was not sent: /)]);
  });

  it('fails a task whose input cannot be copied to a worker', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const echo = pool.task({ module: fixture('echo.mjs') });
    const outcome = await alongsideOthers(
      pool,
      pool.run(echo, () => 'not cloneable'),
    );
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'input', error: { name: 'DataCloneError' } });
  });
});

describe('ThreadPool: run() given something pool.task() did not make', () => {
  it('rejects with VK_TASK_MODULE, running nothing', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const { pool: other } = await openPool({ minThreads: 1, maxThreads: 1 });
    const echo = pool.task({ module: fixture('echo.mjs') });
    const foreign = other.task({ module: fixture('echo.mjs') });
    const lookAlike = { module: fixture('echo.mjs'), exportName: 'default' };
    for (const [bad, shown] of [
      ['not a task', "'not a task'"],
      [lookAlike, 'object'],
      [{ ...echo }, 'object'],
      [undefined, 'undefined'],
    ] as const) {
      await expect(pool.run(bad as unknown as typeof echo, 1)).rejects.toMatchObject({
        code: 'VK_TASK_MODULE',
        message: `run(): expected a task made by this pool's task({ module, exportName }); received ${shown}`,
      });
    }
    // Another pool's task is refused too: its typeId means another task here, or none.
    other.task({ module: fixture('echo.mjs'), exportName: 'other' });
    await expect(
      pool.run(other.task({ module: fixture('echo.mjs'), exportName: 'other' }), 1),
    ).rejects.toMatchObject({
      code: 'VK_TASK_MODULE',
    });
    expect(foreign.typeId).toBe(echo.typeId);
    await expect(pool.run(echo, 2)).resolves.toEqual({ kind: 'succeeded', output: 2 });
  });
});
