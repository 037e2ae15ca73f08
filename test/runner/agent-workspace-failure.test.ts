import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpackBundle } from '../../src/bundle/unpack.js';
import { sha256File } from '../../src/platform/sha256-file.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { runRequest, useFleetRunner } from './fleet-harness.js';

describe('a job whose workspace cannot be made', () => {
  const fleetRunner = useFleetRunner();

  it('fails with the reason and leaves no job directory behind', async () => {
    let preparedIn = '';
    const { fleet, runner } = await fleetRunner.start({
      runnerId: 'rnr_bad_bundle',
      capacity: 1,
      // What the runner's bundle download does, with a bundle that is not gzip at all.
      workspaceFor: async (_job, _token, jobDir) => {
        preparedIn = jobDir;
        const archive = join(fleet.dir, 'not-a-bundle.tar.gz');
        await writeFile(archive, 'plain text, not a tar.gz\n');
        await unpackBundle({ archive, sha256: await sha256File(archive), target: jobDir });
        return jobDir;
      },
    });
    const workflow = parseWorkflow(
      `jobs:
  build:
    runs-on: x
    steps:
      - run: echo never
`,
      'w.yml',
    ).workflow;
    if (!workflow) throw new Error('workflow did not parse');
    const handle = await fleet.plane.startRun(workflow, runRequest(fleet.dir));
    expect(await handle.done).toBe('failed');
    const [job] = await fleet.stores.runs.listJobs(handle.id);
    expect(job?.reason).toMatch(/^the runner could not run the job: TAR_BAD_ARCHIVE/);
    expect(preparedIn.startsWith(join(runner.workDir, 'jobs'))).toBe(true);
    expect(existsSync(preparedIn)).toBe(false);
    expect(await readdir(join(runner.workDir, 'jobs'))).toEqual([]);
  }, 30_000);
});
