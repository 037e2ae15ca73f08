import { afterEach, describe, expect, it } from 'vitest';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { bashStep, runCollecting, textOf } from './helpers.js';

/**
 * The default escalation is actions/runner's (ProcessInvoker: SIGINT, 7.5 s, SIGTERM, 2.5 s, kill):
 * a step whose own Ctrl-C handling takes a few seconds (a test runner writing its report, a
 * `terraform` releasing its lock) gets to finish it, as on GitHub, instead of a SIGTERM at 2.5 s.
 * The other escalation tests set short graces (testKillPolicy); this one sits out part of the real one.
 */
describe('ShellExecutor default kill policy', () => {
  const executors: ShellExecutor[] = [];
  afterEach(async () => {
    await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
  });

  it('lets a step spend 3 s on its SIGINT cleanup before any SIGTERM', async () => {
    const executor = new ShellExecutor({});
    executors.push(executor);
    const controller = new AbortController();
    const script = [
      "trap 'echo got-int; sleep 3; echo cleaned-up; exit 0' INT",
      "trap 'echo got-term; exit 1' TERM",
      'echo ready',
      'while :; do sleep 0.02; done',
    ].join('\n');
    const { outcome, lines } = await runCollecting(executor, bashStep(script), {
      signal: controller.signal,
      onLine: (line) => {
        if (line.text === 'ready') controller.abort('cancelled by the test');
      },
    });
    expect(outcome).toEqual({ kind: 'cancelled', reason: 'cancelled by the test' });
    expect(textOf(lines, 'stdout')).toEqual(['ready', 'got-int', 'cleaned-up']);
  }, 15_000);
});
