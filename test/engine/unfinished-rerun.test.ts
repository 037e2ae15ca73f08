import { describe, expect, it } from 'vitest';
import type { StoredLeg } from '../../src/engine/leg.js';
import { unfinishedRerun } from '../../src/engine/rerun-plan.js';
import type { Workflow } from '../../src/workflow/model.js';
import { rerunChain as chain, stored, workflowOf } from './coordinator-fixtures.js';

/** The split as ids: kept, reopened, and replanned by job key. */
function split(workflow: Workflow, legs: readonly StoredLeg[]) {
  const plan = unfinishedRerun(workflow, legs);
  return {
    kept: plan.kept.map((leg) => leg.id),
    reopened: [...plan.reopened],
    replanned: Object.fromEntries(
      [...plan.replanned].map(([key, records]) => [key, records.map((r) => r.id)]),
    ),
  };
}

describe('unfinishedRerun: what a restore of a re-run left unfinished runs again', () => {
  it('keeps every record of a run no re-run marked, or whose re-run stored every next attempt', () => {
    const legs = [stored(1, 'a', 'succeeded'), stored(2, 'b', 'failed'), stored(3, 'c', 'skipped')];
    expect(split(chain, legs)).toEqual({ kept: ['7.1', '7.2', '7.3'], reopened: [], replanned: {} });
    const done = [
      stored(1, 'a', 'succeeded'),
      stored(2, 'b', 'succeeded', { attempt: 2, rerunAttempt: 1 }),
      stored(3, 'c', 'succeeded', { attempt: 2, rerunAttempt: 1 }),
    ];
    expect(split(chain, done)).toEqual({ kept: ['7.1', '7.2', '7.3'], reopened: [], replanned: {} });
  });

  it('of failed jobs, stopped before anything else was stored: reopens the failed job, replans those after it', () => {
    const legs = [
      stored(1, 'a', 'succeeded'),
      stored(2, 'b', 'failed', { rerunAttempt: 1 }),
      stored(3, 'd', 'succeeded'),
      stored(4, 'c', 'skipped', { rerunAttempt: 1 }),
    ];
    expect(split(chain, legs)).toEqual({
      kept: ['7.1', '7.2', '7.3'],
      reopened: ['7.2'],
      replanned: { c: ['7.4'] },
    });
  });

  it('of failed jobs, the failed one running again: replans only the job after it', () => {
    const legs = [
      stored(1, 'a', 'succeeded'),
      stored(2, 'b', 'running', { attempt: 2, rerunAttempt: 1 }),
      stored(3, 'd', 'succeeded'),
      stored(4, 'c', 'skipped', { rerunAttempt: 1 }),
    ];
    expect(split(chain, legs)).toEqual({
      kept: ['7.1', '7.2', '7.3'],
      reopened: [],
      replanned: { c: ['7.4'] },
    });
  });

  it('of all jobs: a marked job that had succeeded is planned anew, and every job after it', () => {
    const legs = [
      stored(1, 'a', 'succeeded', { rerunAttempt: 1 }),
      stored(2, 'b', 'failed', { rerunAttempt: 1 }),
      stored(3, 'd', 'succeeded', { rerunAttempt: 1 }),
      stored(4, 'c', 'skipped', { rerunAttempt: 1 }),
    ];
    expect(split(chain, legs)).toEqual({
      kept: [],
      reopened: [],
      replanned: { a: ['7.1'], b: ['7.2'], d: ['7.3'], c: ['7.4'] },
    });
  });

  it('reopens the legs not stored yet of a job the re-run had planned anew already', () => {
    const matrix = workflowOf(`jobs:
  t: { runs-on: x, steps: [{ run: t }] }
  u: { needs: t, runs-on: x, strategy: { matrix: { m: [1, 2] } }, steps: [{ run: u }] }
`);
    const legs = [
      stored(1, 't', 'succeeded', { attempt: 2, rerunAttempt: 1 }),
      stored(2, 'u', 'queued', { name: 'u (1)', attempt: 2, rerunAttempt: 1 }),
      stored(3, 'u', 'skipped', { name: 'u (2)', rerunAttempt: 1 }),
    ];
    expect(split(matrix, legs)).toEqual({ kept: ['7.1', '7.2', '7.3'], reopened: ['7.3'], replanned: {} });
  });
});
