import { describe, expect, it } from 'vitest';
import { rerunLegIds } from '../../src/engine/rerun-plan.js';
import { rerunChain as chain, stored, workflowOf } from './coordinator-fixtures.js';

describe('rerunLegIds: the legs a re-run counts against the queue capacity', () => {
  const legs = [
    stored(1, 'a', 'succeeded'),
    stored(2, 'b', 'failed'),
    stored(3, 'd', 'succeeded'),
    stored(4, 'c', 'skipped'),
  ];

  it('of failed jobs: the failed legs and the legs of the jobs after them, not those kept', () => {
    expect(rerunLegIds(chain, legs, 'failed')).toEqual(['7.2', '7.4']);
  });

  it('of all jobs: every leg', () => {
    expect(rerunLegIds(chain, legs, 'all')).toEqual(['7.1', '7.2', '7.3', '7.4']);
  });

  it('of a matrix: only its failed legs, and every leg of a job after it', () => {
    const matrix = workflowOf(`jobs:
  t: { runs-on: x, strategy: { matrix: { n: [1, 2] } }, steps: [{ run: t }] }
  u: { needs: t, runs-on: x, strategy: { matrix: { m: [1, 2] } }, steps: [{ run: u }] }
`);
    const matrixLegs = [
      stored(1, 't', 'succeeded', { name: 't (1)' }),
      stored(2, 't', 'cancelled', { name: 't (2)' }),
      stored(3, 'u', 'skipped', { name: 'u (1)' }),
      stored(4, 'u', 'skipped', { name: 'u (2)' }),
    ];
    expect(rerunLegIds(matrix, matrixLegs, 'failed')).toEqual(['7.2', '7.3', '7.4']);
  });
});
