import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { bashStep, launchers, runCollecting, testKillPolicy, textOf } from './helpers.js';

/**
 * A step closes its stdout long before it exits, and another step starts meanwhile: the spawner closed
 * the first step's stdout pipe at its end of file, so the new step's pipe may get that descriptor
 * number. When the first step ends, the spawner must close only its own pipes, never the new step's
 * (which then died of SIGPIPE, exit 141, at its next write: parallel jobs failed at random).
 */
describe.each(launchers)('%s: pipes of a step started while another drains', (launcher) => {
  const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
  afterAll(() => executor.cleanup());

  it("leaves the newer step's pipes open when the older step ends", async () => {
    const older = runCollecting(executor, bashStep('exec >&-; sleep 0.6'));
    await sleep(200);
    const newer = runCollecting(executor, bashStep('sleep 1.2; echo after'));
    const [first, second] = await Promise.all([older, newer]);
    expect(first.outcome).toEqual({ kind: 'exited', exitCode: 0 });
    expect(second.outcome).toEqual({ kind: 'exited', exitCode: 0 });
    expect(textOf(second.lines, 'stdout')).toEqual(['after']);
  });
});
