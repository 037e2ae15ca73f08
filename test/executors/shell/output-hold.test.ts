import { afterEach, describe, expect, it } from 'vitest';
import { holdStepOutput, ShellExecutor } from '../../../src/executors/shell/index.js';
import { bashStep, runCollecting, testKillPolicy, waitFor } from './helpers.js';

/**
 * holdStepOutput(true) stops this process reading its steps' output: a step that prints more than
 * the pipes hold waits on its write until holdStepOutput(false), and then every line arrives, in
 * order. The runner holds it while its server stores lines slower than a job prints them, which
 * otherwise piled them up in its memory (1.3 GB for 3 million lines of `yes`). The Node spawner's
 * IPC channel cannot be paused, so it is not among these.
 */
afterEach(() => holdStepOutput(false));

describe.each(['in-process', 'perl-spawner', 'python-spawner'] as const)(
  'holdStepOutput through %s',
  (launcher) => {
    it('holds a step that prints fast until released, and loses no line', async () => {
      const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
      holdStepOutput(true);
      let seen = 0;
      const running = runCollecting(executor, bashStep('seq 1 200000'), {
        onLine: () => {
          seen += 1;
        },
      });
      // Held, at most what the pipes and the spawner's buffers took arrives: a few thousand lines.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(seen).toBeLessThan(100_000);
      holdStepOutput(false);
      const { outcome, lines } = await running;
      expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
      expect(lines).toHaveLength(200_000);
      expect(lines[199_999]?.text).toBe('200000');
      expect(lines.every((line, i) => line.text === String(i + 1))).toBe(true);
      await executor.cleanup();
    });
  },
);

it('reads again at once when released before anything was held back', async () => {
  const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher: 'python-spawner' });
  holdStepOutput(true);
  holdStepOutput(false);
  let seen = 0;
  const { lines } = await runCollecting(executor, bashStep('seq 1 1000'), { onLine: () => (seen += 1) });
  expect(lines).toHaveLength(1000);
  expect(await waitFor(() => seen === 1000, 100)).toBe(true);
});
