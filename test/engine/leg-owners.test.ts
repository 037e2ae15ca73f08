import { expect, it } from 'vitest';
import type { ActiveRun } from '../../src/engine/active-run.js';
import { LegOwners } from '../../src/engine/leg-owners.js';

// Only identity matters to LegOwners: stand-ins for two runs.
const runA = { id: 'a' } as unknown as ActiveRun;
const runB = { id: 'b' } as unknown as ActiveRun;

it("lets go of one run's legs only, in the order they joined, each after the callback", () => {
  const owners = new LegOwners();
  owners.set('a1', runA);
  owners.set('b1', runB);
  owners.set('a2', runA);
  owners.set('a1', runA); // a reopened leg joins again: once
  const stopped: string[] = [];
  owners.deleteRun(runA, (legId) => stopped.push(`${legId}:${owners.get(legId)?.id}`));
  expect(stopped).toEqual(['a1:a', 'a2:a']);
  expect([owners.has('a1'), owners.has('a2'), owners.get('b1')]).toEqual([false, false, runB]);
  owners.deleteRun(runA, () => stopped.push('again'));
  expect(stopped).toHaveLength(2);
});

it('moves a leg set to another run out of its first run', () => {
  const owners = new LegOwners();
  owners.set('x', runA);
  owners.set('x', runB);
  owners.deleteRun(runA);
  expect(owners.get('x')).toBe(runB);
  owners.deleteRun(runB);
  expect(owners.has('x')).toBe(false);
});
