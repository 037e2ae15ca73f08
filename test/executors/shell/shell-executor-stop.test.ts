import { afterEach, describe, expect, it } from 'vitest';
import type { KillPolicy, OutputLine } from '../../../src/executors/contract.js';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { bashStep, isRunning, launchers, runCollecting, testKillPolicy, textOf, waitFor } from './helpers.js';

const { interruptGraceMs, terminateGraceMs } = testKillPolicy;
/** Allowance for process start-up and scheduling on a busy 2-core machine. */
const slackMs = 600;

/** Graces too long to sit out in a test: finishing fast proves SIGKILL came at once. */
const patientPolicy = Object.freeze({ interruptGraceMs: 10_000, terminateGraceMs: 10_000 });

describe.each(launchers)('ShellExecutor (%s)', (launcher) => {
  const pidsToReap: number[] = [];
  const executors: ShellExecutor[] = [];
  function make(policy: KillPolicy = testKillPolicy): ShellExecutor {
    const executor = new ShellExecutor({ killPolicy: policy, launcher });
    executors.push(executor);
    return executor;
  }

  afterEach(async () => {
    await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
    for (const pid of pidsToReap.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone, which is what the test wanted.
      }
    }
  });

  /** Aborts `controller` when the step prints its first line, i.e. once its traps are installed. */
  function abortOnFirstLine(controller: AbortController, reason?: unknown): (line: OutputLine) => void {
    return () => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
  }

  function firstPid(lines: readonly OutputLine[]): number {
    const pid = Number(textOf(lines, 'stdout')[0]);
    expect(pid).toBeGreaterThan(1);
    pidsToReap.push(pid);
    return pid;
  }

  describe('timeouts and cancellation', () => {
    it('times out a step that runs too long', async () => {
      const { outcome, elapsedMs } = await runCollecting(make(), bashStep('sleep 30', { timeoutMs: 150 }));
      expect(outcome).toEqual({ kind: 'timed_out' });
      expect(elapsedMs).toBeLessThan(150 + interruptGraceMs + slackMs);
    });

    it('sends SIGTERM to a step that traps SIGINT and keeps going', async () => {
      const script =
        "trap 'echo got-int' INT; trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.02; done";
      // A long terminate grace, so that a loaded machine has time to run the TERM trap: finishing well
      // within it proves the trap's exit ended the step, not a SIGKILL.
      const policy = { interruptGraceMs, terminateGraceMs: 5_000 };
      const { outcome, lines, elapsedMs } = await runCollecting(
        make(policy),
        bashStep(script, { timeoutMs: 300 }),
      );
      expect(outcome).toEqual({ kind: 'timed_out' });
      expect(textOf(lines, 'stdout')).toEqual(['ready', 'got-int', 'got-term']);
      expect(elapsedMs).toBeGreaterThanOrEqual(300 + interruptGraceMs - 20);
      expect(elapsedMs).toBeLessThan(300 + interruptGraceMs + slackMs);
    });

    it('sends SIGKILL to a step that ignores SIGINT and SIGTERM', async () => {
      const script = "trap '' INT TERM; echo ready; while :; do sleep 0.02; done; echo never";
      const { outcome, lines, elapsedMs } = await runCollecting(make(), bashStep(script, { timeoutMs: 300 }));
      expect(outcome).toEqual({ kind: 'timed_out' });
      expect(textOf(lines, 'stdout')).toEqual(['ready']);
      expect(elapsedMs).toBeGreaterThanOrEqual(300 + interruptGraceMs + terminateGraceMs - 20);
      expect(elapsedMs).toBeLessThan(300 + interruptGraceMs + terminateGraceMs + slackMs);
    });

    it('cancels through the AbortSignal, reporting a string reason', async () => {
      const controller = new AbortController();
      const { outcome, elapsedMs } = await runCollecting(make(), bashStep('echo ready; sleep 30'), {
        signal: controller.signal,
        onLine: abortOnFirstLine(controller, 'user pressed Ctrl-C'),
      });
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'user pressed Ctrl-C' });
      expect(elapsedMs).toBeLessThan(interruptGraceMs + slackMs);
    });

    it('cancels a step aborted while it is being started', async () => {
      const controller = new AbortController();
      const running = runCollecting(make(), bashStep('sleep 30'), { signal: controller.signal });
      controller.abort('at once');
      const { outcome, elapsedMs } = await running;
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'at once' });
      expect(elapsedMs).toBeLessThan(interruptGraceMs + slackMs);
    });

    it("reports 'cancelled' when the abort reason is not a string", async () => {
      const controller = new AbortController();
      const { outcome } = await runCollecting(make(), bashStep('echo ready; sleep 30'), {
        signal: controller.signal,
        onLine: abortOnFirstLine(controller),
      });
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'cancelled' });
    });

    it('kills the group at once when killSignal aborts', async () => {
      const kill = new AbortController();
      const script = "trap '' INT TERM; echo ready; sleep 30";
      const { outcome, elapsedMs } = await runCollecting(make(patientPolicy), bashStep(script), {
        killSignal: kill.signal,
        onLine: abortOnFirstLine(kill, 'second Ctrl-C'),
      });
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'second Ctrl-C' });
      expect(elapsedMs).toBeLessThan(slackMs);
    });

    it('kills the group at once when killSignal aborts in the middle of an escalation', async () => {
      const graceful = new AbortController();
      const kill = new AbortController();
      const script = "trap '' INT TERM; echo ready; sleep 30";
      const { outcome, elapsedMs } = await runCollecting(make(patientPolicy), bashStep(script), {
        signal: graceful.signal,
        killSignal: kill.signal,
        onLine: () => {
          graceful.abort('first Ctrl-C');
          setTimeout(() => kill.abort('second Ctrl-C'), 100);
        },
      });
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'first Ctrl-C' });
      expect(elapsedMs).toBeGreaterThanOrEqual(100);
      expect(elapsedMs).toBeLessThan(100 + slackMs);
    });
  });

  describe('no orphans', () => {
    it('stops a background grandchild of a cancelled step before run() resolves', async () => {
      const controller = new AbortController();
      const { outcome, lines, elapsedMs } = await runCollecting(
        make(),
        bashStep('sleep 300 & echo $!; sleep 300'),
        { signal: controller.signal, onLine: abortOnFirstLine(controller, 'stop') },
      );
      expect(outcome).toEqual({ kind: 'cancelled', reason: 'stop' });
      const grandchild = firstPid(lines);
      expect(await waitFor(() => !isRunning(grandchild), 200)).toBe(true);
      expect(elapsedMs).toBeLessThan(interruptGraceMs + terminateGraceMs + slackMs);
    });

    it('stops a background grandchild of a timed-out step', async () => {
      const { outcome, lines } = await runCollecting(
        make(),
        bashStep('sleep 300 & echo $!; sleep 300', { timeoutMs: 200 }),
      );
      expect(outcome).toEqual({ kind: 'timed_out' });
      const grandchild = firstPid(lines);
      expect(await waitFor(() => !isRunning(grandchild), 200)).toBe(true);
    });

    it('lets a background process outlive its step until cleanup()', async () => {
      const executor = make();
      const { outcome, lines, elapsedMs } = await runCollecting(executor, bashStep('sleep 300 & echo $!'));
      expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
      expect(elapsedMs).toBeLessThan(1_000);
      const background = firstPid(lines);
      expect(isRunning(background)).toBe(true);

      const next = await runCollecting(executor, bashStep(`kill -0 ${background} && echo still-there`));
      expect(textOf(next.lines, 'stdout')).toEqual(['still-there']);
      expect(isRunning(background)).toBe(true);

      await executor.cleanup();
      expect(await waitFor(() => !isRunning(background), 500)).toBe(true);
      await executor.cleanup();
    });

    it('stops a background process that detached its output too', async () => {
      const executor = make();
      const { lines, elapsedMs } = await runCollecting(
        executor,
        bashStep('sleep 300 >/dev/null 2>&1 & echo $!'),
      );
      expect(elapsedMs).toBeLessThan(1_000);
      const background = firstPid(lines);
      expect(isRunning(background)).toBe(true);
      await executor.cleanup();
      expect(await waitFor(() => !isRunning(background), 500)).toBe(true);
    });
  });
});
