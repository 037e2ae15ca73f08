import { describe, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import { unplannedJobs } from '../../src/engine/unplanned-jobs.js';
import type { ResumableRun, StoredRunRequest } from '../../src/store/recovery.js';
import type { RunRecord } from '../../src/store/runs.js';

const source = `name: w
jobs:
  build: { runs-on: linux, steps: [{ run: "true" }] }
  report:
    name: report for \${{ github.ref_name }} of \${{ github.repository }} at \${{ github.sha }}
    needs: build
    runs-on: linux
    steps: [{ run: "true" }]
`;

const run = {
  id: asRunId('r1'),
  runNumber: 1,
  status: 'running',
  workflowName: 'w',
  workflowPath: 'w.yml',
  createdAt: 1,
  sha: 'abc123',
  ref: 'refs/heads/main',
} satisfies RunRecord;

const request: StoredRunRequest = {
  workspace: '',
  actor: 'a',
  vars: {},
  envOverrides: {},
  extraLabels: [],
  secretNames: [],
  driver: 'server',
};

function namesOf(resumable: ResumableRun): string[] {
  return unplannedJobs(run, resumable, []).map((job) => job.name);
}

describe('unplannedJobs', () => {
  it("names a job from the run's stored git context, as the run's driver would have", () => {
    const git = { sha: 'abc123', ref: 'refs/heads/main', repository: 'acme/widgets' };
    expect(namesOf({ source, request: { ...request, git } })).toEqual([
      'build',
      'report for main of acme/widgets at abc123',
    ]);
  });

  it("names a job from the run record's sha and ref when the run was stored without its git context", () => {
    expect(namesOf({ source, request })).toEqual(['build', 'report for main of  at abc123']);
  });
});
