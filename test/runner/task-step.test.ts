import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskPoolHolder } from '../../src/runner/task-pool.js';
import { resolveTaskModule, taskOutputs } from '../../src/runner/task-step.js';

describe('task step outputs', () => {
  it('are the entries of a returned plain object, strings as they are and the rest as JSON', () => {
    expect(taskOutputs({ a: 'x', n: 2, ok: false, list: [1], nested: { b: null }, gone: undefined })).toEqual(
      {
        a: 'x',
        n: '2',
        ok: 'false',
        list: '[1]',
        nested: '{"b":null}',
      },
    );
  });

  it('put any other result under result, and nothing for undefined or null', () => {
    expect(taskOutputs(42)).toEqual({ result: '42' });
    expect(taskOutputs('done')).toEqual({ result: 'done' });
    expect(taskOutputs([1, 2])).toEqual({ result: '[1,2]' });
    expect(taskOutputs(undefined)).toEqual({});
    expect(taskOutputs(null)).toEqual({});
  });
});

describe('task modules', () => {
  const root = mkdtempSync(join(tmpdir(), 'valkyrie-task-step-'));
  const workspace = join(root, 'workspace');
  mkdirSync(join(workspace, 'tasks'), { recursive: true });
  writeFileSync(join(workspace, 'tasks', 'a.mjs'), 'export default () => 1;\n');
  writeFileSync(join(root, 'outside.mjs'), 'export default () => 1;\n');
  symlinkSync(join(root, 'outside.mjs'), join(workspace, 'tasks', 'link.mjs'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('resolve relative to the workspace', () => {
    expect(resolveTaskModule(workspace, './tasks/a.mjs')).toBe(join(workspace, 'tasks', 'a.mjs'));
  });

  it('must exist, and must not lead out of the workspace through a link', () => {
    expect(() => resolveTaskModule(workspace, './tasks/none.mjs')).toThrow(
      /task module \.\/tasks\/none\.mjs was not found in the workspace/,
    );
    expect(() => resolveTaskModule(workspace, './tasks/link.mjs')).toThrow(/outside the workspace/);
  });
});

describe('the runner task pool', () => {
  it('is made on first use, once, and refuses work once closed', async () => {
    const holder = new TaskPoolHolder();
    const pool = holder.get();
    expect(holder.get()).toBe(pool);
    expect(pool.options.concurrentTasksPerWorker).toBe(1);
    await holder.close();
    expect(pool.stats().threads).toBe(0);
    expect(() => holder.get()).toThrow(/shutting down/);
    await new TaskPoolHolder().close();
  });
});
