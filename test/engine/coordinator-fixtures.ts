import { asJobId } from '../../src/core/ids.js';
import type { JobStatus } from '../../src/core/outcome.js';
import type { Effect, StoredLeg } from '../../src/engine/leg.js';
import type { RunContext } from '../../src/engine/run-context.js';
import { RunCoordinator } from '../../src/engine/run-coordinator.js';
import type { Workflow } from '../../src/workflow/model.js';
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

/** The workflow of `yaml`, which must parse. */
export function workflowOf(yaml: string): Workflow {
  const parsed = parseWorkflow(yaml, 'test.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

/** a → b → c, and d after a only: for what a re-run runs again. */
export const rerunChain = workflowOf(`jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { needs: a, runs-on: x, steps: [{ run: b }] }
  c: { needs: b, runs-on: x, steps: [{ run: c }] }
  d: { needs: a, runs-on: x, steps: [{ run: d }] }
`);

/** A coordinator of run 7 for the workflow; `random` draws retry jitter. */
export function coordinator(
  yaml: string,
  context: Partial<RunContext> = {},
  random?: () => number,
): RunCoordinator {
  return new RunCoordinator(workflowOf(yaml), { ...run, ...context }, (n) => asJobId(`7.${n}`), random);
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
