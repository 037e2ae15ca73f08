import { describe, expect, it } from 'vitest';
import { looksLikeJobId, selectJobs, unknownJobsMessage } from '../../src/workflow/job-selection.js';
import type { Workflow } from '../../src/workflow/model.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

const source = `name: ci
jobs:
  setup: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] }
  lint: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] }
  build: { needs: setup, runs-on: ubuntu-latest, steps: [{ run: 'true' }] }
  test: { needs: [build, lint], runs-on: ubuntu-latest, steps: [{ run: 'true' }] }
  docs: { needs: setup, runs-on: ubuntu-latest, steps: [{ run: 'true' }] }
`;

function workflow(): Workflow {
  const parsed = parseWorkflow(source, 'ci.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

function keysOf(ids: string[]): string[] {
  const selection = selectJobs(workflow(), ids);
  if (selection.kind !== 'selected') throw new Error(`unexpected ${selection.kind}`);
  return [...selection.workflow.jobs.keys()];
}

describe('selectJobs', () => {
  it('keeps the named jobs and what they need, transitively, in file order', () => {
    expect(keysOf(['build'])).toEqual(['setup', 'build']);
    expect(keysOf(['test'])).toEqual(['setup', 'lint', 'build', 'test']);
    expect(keysOf(['docs', 'lint'])).toEqual(['setup', 'lint', 'docs']);
    expect(keysOf(['setup'])).toEqual(['setup']);
  });

  it('follows needs written in another case, as GitHub compares job ids', () => {
    const mixed = `jobs:
  setup: { runs-on: x, steps: [{ run: 'true' }] }
  build: { needs: SETUP, runs-on: x, steps: [{ run: 'true' }] }
  other: { runs-on: x, steps: [{ run: 'true' }] }
`;
    const parsed = parseWorkflow(mixed, 'ci.yml', { jobs: ['build'] });
    expect(parsed.diagnostics).toEqual([]);
    expect([...(parsed.workflow?.jobs.keys() ?? [])]).toEqual(['setup', 'build']);
    const selection = parsed.workflow && selectJobs(parsed.workflow, ['build']);
    expect(selection?.kind === 'selected' && [...selection.workflow.jobs.keys()]).toEqual(['setup', 'build']);
  });

  it('names the unknown ids and lists the workflow job ids', () => {
    const selection = selectJobs(workflow(), ['build', 'deploy']);
    expect(selection).toEqual({
      kind: 'unknown',
      unknown: ['deploy'],
      known: ['setup', 'lint', 'build', 'test', 'docs'],
    });
    if (selection.kind !== 'unknown') return;
    expect(unknownJobsMessage(selection, 'ci.yml')).toBe(
      '"deploy" is not a job of ci.yml; its jobs: setup, lint, build, test, docs',
    );
  });

  it('tells what could be a job id from what could not', () => {
    expect(['build', '_x', 'build-2'].map(looksLikeJobId)).toEqual([true, true, true]);
    expect(['4', '-1', '1.5', '', 'a b'].map(looksLikeJobId)).toEqual([false, false, false, false, false]);
  });
});
