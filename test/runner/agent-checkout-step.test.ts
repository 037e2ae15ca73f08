import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { type Fleet, lines, runRequest, startFleet, startRunner } from './fleet-harness.js';

const workflow = (out: string) => `jobs:
  build:
    runs-on: x
    steps:
      - uses: actions/checkout@v4
        with: { fetch-depth: 0 }
      - run: cat marker.txt >> "${out}/seen.log"
`;

describe('actions/checkout on a fleet runner', () => {
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it("succeeds at once, saying the job's unpacked workspace is the checkout, and later steps see its files", async () => {
    fleet = await startFleet();
    const runner = await startRunner(fleet, {
      runnerId: 'rnr_checkout',
      capacity: 1,
      workspaceFor: async (_job, _token, jobDir) => {
        await writeFile(join(jobDir, 'marker.txt'), 'from the bundle\n');
        return jobDir;
      },
    });
    const parsed = parseWorkflow(workflow(fleet.dir), 'w.yml').workflow;
    if (!parsed) throw new Error('workflow did not parse');
    const handle = await fleet.plane.startRun(parsed, runRequest(fleet.dir));
    expect(await handle.done).toBe('succeeded');
    expect(lines(join(fleet.dir, 'seen.log'))).toEqual(['from the bundle']);
    const checkoutLog = fleet.events.flatMap((event) =>
      event.type === 'log' && event.stepIndex === 0 ? [event.text] : [],
    );
    expect(checkoutLog).toHaveLength(1);
    expect(checkoutLog[0]).toMatch(
      /^actions\/checkout: the job’s workspace \(.*\/jobs\/.*\) is used as the checkout; nothing was fetched$/,
    );
    await runner.agent.drain();
    runner.transport.close();
  });
});
