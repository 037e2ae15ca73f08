import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import {
  type Fleet,
  lines,
  registrationRoute,
  runRequest as request,
  startFleet,
  until,
} from '../runner/fleet-harness.js';
import { collect, Workspace } from './cli.js';

/**
 * An `if: always()` step that marks its start and its end, then an `if: always()` step after it.
 * A cancel that re-judges the running step's if: lets it end; a runner's shutdown does not.
 */
function cleanupWorkflow(out: string) {
  const text = `jobs:
  work:
    runs-on: x
    steps:
      - if: always()
        run: echo started >> "${out}/marks.log"; sleep 4; echo finished >> "${out}/marks.log"
      - if: always()
        run: echo after >> "${out}/marks.log"
`;
  const workflow = parseWorkflow(text, 'w.yml').workflow;
  if (!workflow) throw new Error('workflow did not parse');
  return workflow;
}

// actions/runner (StepsRunner) judges the running step's if: again when its job is cancelled, but
// not on runner shutdown: then the step is cancelled and the steps after it are skipped unjudged.
describe('valkyrie runner: a cancel of the job and its own shutdown', () => {
  const ws = new Workspace();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function runnerWithJob(name: string): Promise<{ f: Fleet; child: ChildProcess; out: string }> {
    const f = await startFleet({ leaseTtlMs: 5_000 }, registrationRoute);
    cleanups.push(() => f.close());
    const workDir = join(ws.dir, name);
    const child = ws.start([
      'runner',
      '--server',
      f.url,
      '--token',
      'reg-ok',
      '--work-dir',
      workDir,
      '--labels',
      'x',
    ]);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await until(() => f.plane.runners().length === 1, 'the runner to register');
    return { f, child, out: f.dir };
  }

  it('a second SIGTERM stops the running if: always() step and skips the always() steps after it', async () => {
    const { f, child, out } = await runnerWithJob('shutdown');
    const done = collect(child);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const handle = await f.plane.startRun(cleanupWorkflow(out), request(out));
    await until(() => lines(join(out, 'marks.log')).includes('started'), 'the step to start');
    child.kill('SIGTERM');
    await until(() => stdout.includes('draining'), 'the drain');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    expect(await handle.done).toBe('cancelled');
    expect(lines(join(out, 'marks.log'))).toEqual(['started']);
    const [job] = await f.stores.runs.listJobs(handle.id);
    if (job === undefined) throw new Error('no job');
    const steps = await f.stores.runs.listSteps(job.id);
    expect(steps.map((step) => step.outcome)).toEqual(['cancelled', 'skipped']);
    expect(job.reason).toBe('the runner is shutting down (second SIGTERM)');
  }, 30_000);

  it("the server's cancel of the job lets the running if: always() step end, and runs the always() step after it", async () => {
    const { f, child, out } = await runnerWithJob('user-cancel');
    const handle = await f.plane.startRun(cleanupWorkflow(out), request(out));
    await until(() => lines(join(out, 'marks.log')).includes('started'), 'the step to start');
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');
    expect(lines(join(out, 'marks.log'))).toEqual(['started', 'finished', 'after']);
    child.kill('SIGTERM');
    expect((await collect(child)).code).toBe(0);
  }, 30_000);
});
