import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { type Fleet, lines, runRequest, startFleet, startRunner } from './fleet-harness.js';

const workflow = (out: string) => `jobs:
  thumbs:
    runs-on: x
    strategy: { matrix: { n: [1, 2] } }
    steps:
      - id: size
        uses: task://./tasks/lib.mjs#size
        with:
          n: \${{ matrix.n }}
      - run: echo "job-\${{ matrix.n }} \${{ steps.size.outputs.width }} \${{ steps.size.outputs.where }}" >> "${out}/sizes.log"
`;

/** What the job's unpacked bundle would hold: the task module, in the job's own directory. */
const task = `export function size(input) {
  return { width: Number(input.n) * 100, where: import.meta.url.includes('/jobs/') ? 'job-dir' : 'elsewhere' };
}
`;

describe('task steps on a fleet runner', () => {
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it("run from the job's own workspace on the runner's thread pool and feed later steps", async () => {
    fleet = await startFleet();
    const runner = await startRunner(fleet, {
      runnerId: 'rnr_tasks',
      capacity: 2,
      workspaceFor: async (_job, _token, jobDir) => {
        await mkdir(join(jobDir, 'tasks'));
        await writeFile(join(jobDir, 'tasks', 'lib.mjs'), task);
        return jobDir;
      },
    });
    const parsed = parseWorkflow(workflow(fleet.dir), 'w.yml').workflow;
    if (!parsed) throw new Error('workflow did not parse');
    const handle = await fleet.plane.startRun(parsed, runRequest(fleet.dir));
    expect(await handle.done).toBe('succeeded');
    expect(lines(join(fleet.dir, 'sizes.log')).sort()).toEqual(['job-1 100 job-dir', 'job-2 200 job-dir']);
    await runner.agent.drain();
    runner.transport.close();
  });
});
