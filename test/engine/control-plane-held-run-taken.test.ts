import { describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { resolveWorkflowGroup } from '../../src/engine/workflow-group.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { eventually, parsedWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const deploy = parsedWorkflow(
  'concurrency:\n  group: deploy\n  queue: true\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n',
);

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a run waiting for its workflow's group, taken over`, () => {
    const stores = useStores(make);

    it('is given up: its done rejects, its place in the group goes, and it never starts here', async () => {
      const clock = new ManualClock();
      const plane = new ControlPlane(stores(), { clock });
      const runner = new ScriptedRunner(plane, accepting, { capacity: 4 });
      const group = resolveWorkflowGroup(deploy, runRequest);
      if (group === undefined) throw new Error('no group');
      const submit = async () => {
        const submitted = await plane.submitRun(deploy, runRequest, { group });
        if (submitted.kind !== 'started') throw new Error('not started');
        return submitted.handle;
      };
      const holder = await submit();
      await eventually('the holder leased', () => runner.of('lease').length === 1);
      const waiting = await submit();
      await eventually('two members', async () => (await stores().concurrency.list('deploy')).length === 2);

      // Its heartbeat found it taken (or a write of it was refused): this process stops driving it.
      expect(plane.abandonRun(waiting.id)).toBe(true);
      await expect(waiting.done).rejects.toMatchObject({ code: 'VK_RUN_TAKEN_OVER' });
      await eventually(
        'its place gone',
        async () => (await stores().concurrency.list('deploy')).length === 1,
      );

      runner.complete(runner.of('lease')[0] as Lease);
      expect(await holder.done).toBe('succeeded');
      for (let i = 0; i < 10; i++) {
        await clock.advance(500);
        await settle();
      }
      expect(runner.of('lease')).toHaveLength(1);
    });
  });
}
