import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, openTestEngine } from './helpers.js';

/**
 * Node ids are the user's strings, and the result's `outputs` and `nodes` (and a node's `parents`)
 * are keyed by them: ids that are also names on Object.prototype must be plain keys there.
 */
describe('Engine: workflow node ids named like Object.prototype members', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-node-ids-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const store of ['memory', 'sqlite'] as const) {
    it(`keys outputs, outcomes and parents by them as own properties (${store} store)`, async () => {
      const { engine } = await openTestEngine(
        store === 'sqlite' ? { store: { kind: 'sqlite', path: join(dir, 'state.db') } } : {},
      );
      engine.task('sum', { module: fixture(), exportName: 'sum' });
      engine.task('fails', { module: fixture(), exportName: 'fails' });
      const result = await engine.runWorkflow({
        nodes: [
          { id: '__proto__', task: 'sum', input: 1 },
          { id: 'hasOwnProperty', task: 'sum', input: 10 },
          { id: 'constructor', task: 'fails' },
          { id: 'toString', task: 'sum', input: 0 },
        ],
        edges: [
          { from: '__proto__', to: 'hasOwnProperty' },
          { from: 'constructor', to: 'toString' },
        ],
      });
      expect(result.kind).toBe('failed');
      expect(Object.getPrototypeOf(result.outputs)).toBe(Object.prototype);
      expect(Object.keys(result.outputs).sort()).toEqual(['__proto__', 'hasOwnProperty']);
      expect(Object.getOwnPropertyDescriptor(result.outputs, '__proto__')?.value).toEqual({
        total: 1,
        saw: { input: 1, parents: [] },
      });
      expect(Object.getOwnPropertyDescriptor(result.outputs, 'hasOwnProperty')?.value).toEqual({
        total: 11,
        saw: { input: 10, parents: ['__proto__'] },
      });
      expect(Object.keys(result.nodes).sort()).toEqual([
        '__proto__',
        'constructor',
        'hasOwnProperty',
        'toString',
      ]);
      expect(Object.getOwnPropertyDescriptor(result.nodes, '__proto__')?.value).toMatchObject({
        kind: 'succeeded',
      });
      expect(result.nodes.toString).toEqual({ kind: 'skipped', blockedBy: 'constructor' });
    });
  }
});
