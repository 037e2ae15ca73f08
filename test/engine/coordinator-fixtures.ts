import { asJobId } from '../../src/core/ids.js';
import type { JobStatus } from '../../src/core/outcome.js';
import type { Effect, StoredLeg } from '../../src/engine/leg.js';
import type { RunContext } from '../../src/engine/run-context.js';
import { RunCoordinator } from '../../src/engine/run-coordinator.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

/** Run 7, whose jobs are `7.<ordinal>`: fixtures for RunCoordinator's tests. */
const run: RunContext = {
  runId: '7',
  runNumber: 1,
  workflowName: 'test',
  workspace: '/tmp',
  actor: 'tester',
  vars: {},
  secrets: {},
  envOverrides: {},
};

/** A coordinator of run 7 for the workflow; `random` draws retry jitter. */
export function coordinator(
  yaml: string,
  context: Partial<RunContext> = {},
  random?: () => number,
): RunCoordinator {
  const parsed = parseWorkflow(yaml, 'test.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return new RunCoordinator(parsed.workflow, { ...run, ...context }, (n) => asJobId(`7.${n}`), random);
}

/** Job 7.<ordinal> as the store last saw it, named after its key unless `more` says otherwise. */
export const stored = (
  ordinal: number,
  key: string,
  status: JobStatus,
  more: Partial<StoredLeg> = {},
): StoredLeg => ({
  id: asJobId(`7.${ordinal}`),
  key,
  name: key,
  matrix: {},
  status,
  outputs: {},
  attempt: 1,
  ...more,
});

export const summary = (effects: Effect[]) =>
  effects.map((effect) => `${effect.kind} ${effect.leg.id} ${effect.leg.name}`);
