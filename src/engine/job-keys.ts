import type { JobId } from '../core/ids.js';
import { isTerminal, type NeedsResult, needsResultOf } from '../core/outcome.js';
import type { JobSpec } from '../protocol/job-spec.js';
import { type EvaluationContext, type ExpressionValue, isObject } from '../workflow/expressions/index.js';
import type { JobDefinition } from '../workflow/model.js';
import { continuedOnError, type Effect, type Leg, moveLeg } from './leg.js';

/** One job of a run's DAG (a key under `jobs:`) as RunCoordinator tracks it: its legs and result. */
export interface KeyState {
  readonly job: JobDefinition;
  legs: Leg[];
  expanded: boolean;
  /** Known once every leg is final: what `needs.<key>.result` says. */
  result?: NeedsResult;
  outputs: Record<string, string>;
  maxParallel: number;
  /** What statusFor() needs of this job and all it depends on, kept once all of them have results. */
  ancestry?: Ancestry;
  /** How many legs at the start are known final (settle) and known past `pending` (releaseLegs). */
  finalLegs?: number;
  releasedLegs?: number;
  /**
   * While not expanded: a need whose result was not known at the last look. Results never change once
   * known, so until that one has its result the job cannot start and its other needs need no look.
   */
  waitingOn?: KeyState;
}

interface Ancestry {
  readonly failed: boolean;
  readonly allSucceeded: boolean;
}

export type KeyStates = ReadonlyMap<string, KeyState>;

/** Once every leg of a job is final, its `needs.<key>.result` is known. */
export function settle(state: KeyState): void {
  if (!state.expanded || state.result !== undefined || state.legs.length === 0) return;
  // A final status never changes (core/job-state.ts): each completion of a matrix's legs would
  // otherwise walk every leg that finished before it.
  const legs = state.legs;
  let final = state.finalLegs ?? 0;
  while (final < legs.length && isTerminal(legs[final]?.status ?? 'pending')) final++;
  state.finalLegs = final;
  if (final < legs.length) return;
  const results: NeedsResult[] = [];
  for (const leg of legs) {
    if (!isTerminal(leg.status)) return;
    results.push(continuedOnError(leg) ? 'success' : needsResultOf(leg.status));
  }
  if (results.includes('failure')) state.result = 'failure';
  else if (results.includes('cancelled')) state.result = 'cancelled';
  else if (results.every((result) => result === 'skipped')) state.result = 'skipped';
  else state.result = 'success';
}

/**
 * Queues pending legs, in order, while fewer than max-parallel of the job are queued or running. A
 * leg never returns to `pending` (core/job-state.ts), so the legs already past it at the start are
 * not looked at again; and without a max-parallel below the number of legs, nothing is counted.
 */
export function releaseLegs(state: KeyState, effects: Effect[]): void {
  const legs = state.legs;
  let released = state.releasedLegs ?? 0;
  while (released < legs.length && legs[released]?.status !== 'pending') released++;
  state.releasedLegs = released;
  let active = state.maxParallel >= legs.length ? 0 : countActive(legs);
  for (let index = released; index < legs.length && active < state.maxParallel; index++) {
    const leg = legs[index];
    if (leg?.status !== 'pending') continue;
    moveLeg(leg, 'queued');
    active++;
    effects.push({ kind: 'queue', leg });
  }
}

function countActive(legs: readonly Leg[]): number {
  let active = 0;
  for (const leg of legs) if (leg.status === 'queued' || leg.status === 'running') active++;
  return active;
}

export function needsSettled(keys: KeyStates, job: JobDefinition): boolean {
  return job.needs.every((need) => keys.get(need)?.result !== undefined);
}

/**
 * Whether every need of `state`'s job has its result, remembering the first need that has none (see
 * `waitingOn`): a run coordinator asks this of every waiting job after each completion, and on a chain
 * of 1,000 jobs walking each one's needs anew cost ~0.15 ms per completion.
 */
export function needsSettledFor(keys: KeyStates, state: KeyState): boolean {
  if (state.waitingOn !== undefined && state.waitingOn.result === undefined) return false;
  state.waitingOn = undefined;
  for (const need of state.job.needs) {
    const needed = keys.get(need);
    if (needed?.result !== undefined) continue;
    state.waitingOn = needed;
    return false;
  }
  return true;
}

/** The `needs` context of a job: each need's result and outputs. */
export function needsContext(keys: KeyStates, job: JobDefinition): ExpressionValue {
  const needs: Record<string, ExpressionValue> = {};
  for (const need of job.needs) {
    const state = keys.get(need);
    needs[need] = { result: state?.result ?? null, outputs: { ...state?.outputs } };
  }
  return needs;
}

/**
 * GitHub: failure() is true when any ancestor failed; success() only when every ancestor succeeded,
 * so a job after a skipped one is skipped too, even if the job between them ran with always().
 */
export function statusFor(
  keys: KeyStates,
  job: JobDefinition,
  cancelled: boolean,
): NonNullable<EvaluationContext['status']> {
  let failed = false;
  let allSucceeded = true;
  for (const need of job.needs) {
    const ancestry = ancestryOf(keys, need).ancestry;
    failed ||= ancestry.failed;
    allSucceeded &&= ancestry.allSucceeded;
  }
  return { failed, cancelled, success: allSucceeded && !cancelled };
}

/**
 * A job's own result folded with its ancestors'. A result never changes once known, so the fold is
 * kept on the key once every result in it is known: a chain of n jobs then costs n steps, not n².
 */
function ancestryOf(keys: KeyStates, key: string): { ancestry: Ancestry; final: boolean } {
  const state = keys.get(key);
  if (!state) return { ancestry: { failed: false, allSucceeded: false }, final: false };
  if (state.ancestry) return { ancestry: state.ancestry, final: true };
  let failed = state.result === 'failure';
  let allSucceeded = state.result === 'success';
  let final = state.result !== undefined;
  for (const need of state.job.needs) {
    const parent = ancestryOf(keys, need);
    failed ||= parent.ancestry.failed;
    allSucceeded &&= parent.ancestry.allSucceeded;
    final &&= parent.final;
  }
  const ancestry = { failed, allSucceeded };
  if (final) state.ancestry = ancestry;
  return { ancestry, final };
}

/** Job ids end in their ordinal (core/ids.ts); new legs of a restored run continue after the last. */
export function ordinalOf(id: JobId): number {
  const ordinal = Number(id.slice(id.lastIndexOf('.') + 1));
  return Number.isSafeInteger(ordinal) ? ordinal : 0;
}

export function isFailFast(spec: JobSpec): boolean {
  const strategy = spec.contexts.strategy;
  return isObject(strategy) && strategy['fail-fast'] === true;
}
