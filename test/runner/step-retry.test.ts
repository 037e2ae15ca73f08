import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessOutcome } from '../../src/core/outcome.js';
import { defaultRetryPolicy, type RetryPolicy } from '../../src/core/retry-delay.js';
import type { Executor, RunStepOptions, StepProcess } from '../../src/executors/contract.js';
import type { JobSpec } from '../../src/protocol/job-spec.js';
import type { LogEntry, StepReport } from '../../src/protocol/messages.js';
import { type JobRunResult, runJob } from '../../src/runner/job-run.js';
import { runAttempts, type StepAttempt, waitBeforeRetry } from '../../src/runner/step-retry.js';
import { TaskPoolHolder } from '../../src/runner/task-pool.js';
import type { StepDefinition } from '../../src/workflow/model.js';

/** Plays back one scripted outcome per step attempt, printing the attempt's number first. */
class ScriptedExecutor implements Executor {
  calls = 0;
  constructor(
    private readonly outcomes: ProcessOutcome[],
    private readonly onRun: (call: number) => void = () => {},
  ) {}
  async prepare(): Promise<void> {}
  async run(_step: StepProcess, options: RunStepOptions): Promise<ProcessOutcome> {
    this.calls++;
    options.onLine({ stream: 'stdout', text: `call ${this.calls}`, at: Date.now() });
    this.onRun(this.calls);
    return this.outcomes.shift() ?? { kind: 'exited', exitCode: 0 };
  }
  async cleanup(): Promise<void> {}
}

const exit = (exitCode: number): ProcessOutcome => ({ kind: 'exited', exitCode });

const step = (overrides: Partial<StepDefinition> = {}): StepDefinition => ({
  index: 0,
  id: 'flaky',
  name: 'flaky',
  run: 'true',
  env: {},
  continueOnError: false,
  ...overrides,
});

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({
  ...defaultRetryPolicy,
  delayMs: 1,
  ...overrides,
});

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

interface Recorded {
  result: JobRunResult;
  started: { index: number; attempt: number }[];
  completed: StepReport[];
  logs: LogEntry[];
}

async function run(
  steps: StepDefinition[],
  executor: Executor,
  signals: { signal?: AbortSignal; killSignal?: AbortSignal } = {},
  outputs: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<Recorded> {
  root = mkdtempSync(join(tmpdir(), 'valkyrie-step-retry-'));
  const directories = {
    temp: join(root, 'temp'),
    files: join(root, 'files'),
    toolCache: join(root, 'tools'),
  };
  mkdirSync(directories.temp);
  mkdirSync(directories.files);
  const spec: JobSpec = {
    runId: '1',
    jobId: '1.1',
    key: 'job',
    name: 'job',
    attempt: 1,
    workspace: root,
    workflowEnv: {},
    jobEnv: {},
    defaults: {},
    steps,
    outputs,
    timeoutMs,
    contexts: { github: {}, vars: {}, secrets: {}, matrix: {}, strategy: {}, needs: {}, inputs: {} },
  };
  const recorded: Omit<Recorded, 'result'> = { started: [], completed: [], logs: [] };
  const result = await runJob(spec, {
    executor,
    reporter: {
      stepStarted: (index, _name, _at, attempt) => recorded.started.push({ index, attempt }),
      log: (entry) => recorded.logs.push(entry),
      stepCompleted: (report) => recorded.completed.push(report),
    },
    host: { os: 'Linux', arch: 'X64', name: 'test' },
    directories,
    baseEnv: {},
    signal: signals.signal ?? new AbortController().signal,
    killSignal: signals.killSignal ?? new AbortController().signal,
    // Never started: these jobs have shell steps only.
    taskPool: new TaskPoolHolder(),
  });
  return { result, ...recorded };
}

describe('step retries', () => {
  it('runs a failed step again until it succeeds, reporting every attempt', async () => {
    const executor = new ScriptedExecutor([exit(1), exit(2)]);
    const { result, started, completed, logs } = await run(
      [step({ retry: policy({ maxAttempts: 3 }) })],
      executor,
      {},
      { seen: '${{ steps.flaky.outcome }}' },
    );
    expect(result.outcome).toEqual({ kind: 'succeeded' });
    expect(result.outputs).toEqual({ seen: 'success' });
    expect(executor.calls).toBe(3);
    expect(started).toEqual([1, 2, 3].map((attempt) => ({ index: 0, attempt })));
    expect(completed.map((r) => [r.attempt, r.outcome, r.exitCode, r.retryDelayMs !== undefined])).toEqual([
      [1, 'failure', 1, true],
      [2, 'failure', 2, true],
      [3, 'success', 0, false],
    ]);
    const output = logs.filter((entry) => entry.stream === 'stdout');
    expect(output.map((entry) => [entry.attempt, entry.text])).toEqual([
      [1, 'call 1'],
      [2, 'call 2'],
      [3, 'call 3'],
    ]);
    expect(logs.filter((e) => e.stream === 'system').map((e) => e.text)).toEqual([
      'attempt 1 of 3 failed (exit code 1); retrying in 1ms',
      'attempt 2 of 3 failed (exit code 2); retrying in 2ms',
    ]);
  });

  it('gives up after max-attempts: the last attempt is the step outcome', async () => {
    const executor = new ScriptedExecutor([exit(1), exit(1), exit(7)]);
    const { result, completed } = await run(
      [step({ retry: policy({ maxAttempts: 3 }) }), step({ index: 1, id: 'after' })],
      executor,
      {},
      { seen: '${{ steps.flaky.outcome }}' },
    );
    expect(result.outcome).toMatchObject({ kind: 'failed', exitCode: 7 });
    expect(result.outputs).toEqual({ seen: 'failure' });
    expect(executor.calls).toBe(3);
    expect(completed.map((r) => [r.index, r.attempt, r.conclusion])).toEqual([
      [0, 1, 'failure'],
      [0, 2, 'failure'],
      [0, 3, 'failure'],
      [1, 1, 'skipped'],
    ]);
  });

  it('retries only the listed exit codes', async () => {
    const only3 = policy({ maxAttempts: 5, when: [{ kind: 'exit-codes', codes: [3] }] });
    const retried = new ScriptedExecutor([exit(3), exit(3)]);
    expect((await run([step({ retry: only3 })], retried)).result.outcome.kind).toBe('succeeded');
    expect(retried.calls).toBe(3);
    const notRetried = new ScriptedExecutor([exit(1)]);
    expect((await run([step({ retry: only3 })], notRetried)).result.outcome.kind).toBe('failed');
    expect(notRetried.calls).toBe(1);
  });

  it('does not retry a step without retry:', async () => {
    const executor = new ScriptedExecutor([exit(1)]);
    const { result, completed } = await run([step()], executor);
    expect(result.outcome.kind).toBe('failed');
    expect(executor.calls).toBe(1);
    expect(completed).toHaveLength(1);
    expect(completed[0]?.attempt).toBe(1);
  });

  it('stops at once when the job is cancelled during the wait', async () => {
    const cancel = new AbortController();
    // A one-hour delay: only the cancellation can end this wait within the test's timeout.
    const executor = new ScriptedExecutor([exit(1), exit(1)], () =>
      setImmediate(() => cancel.abort('cancelled')),
    );
    const { result, completed } = await run(
      [step({ retry: policy({ maxAttempts: 3, delayMs: 3_600_000, maxDelayMs: 3_600_000 }) })],
      executor,
      { signal: cancel.signal },
    );
    expect(executor.calls).toBe(1);
    expect(result.outcome.kind).toBe('cancelled');
    expect(completed.map((r) => [r.attempt, r.outcome])).toEqual([[1, 'failure']]);
  });
});

describe('step retries and the job timeout', () => {
  it('ends the wait when the job times out: the job is timed_out, no further attempt starts', async () => {
    const executor = new ScriptedExecutor([exit(1), exit(1)]);
    // A one-hour delay against a 20 ms job timeout: only the timeout can end this wait in time.
    const hour = policy({ maxAttempts: 3, delayMs: 3_600_000, maxDelayMs: 3_600_000 });
    const { result } = await run([step({ retry: hour })], executor, {}, {}, 20);
    expect(result.outcome).toEqual({ kind: 'timed_out' });
    expect(executor.calls).toBe(1);
  });
});

describe('runAttempts', () => {
  const failedAttempt: StepAttempt = {
    outcome: exit(1),
    result: 'failure',
    exitCode: 1,
    startedAt: 0,
    continueOnError: false,
  };

  it('starts no attempt after a wait that ran out just as the job was interrupted', async () => {
    let interrupted = false;
    let runs = 0;
    const { last, reported } = await runAttempts(policy({ maxAttempts: 5 }), {
      run: async () => {
        runs++;
        return failedAttempt;
      },
      interrupted: () => interrupted,
      retrying: () => {
        interrupted = true;
        return [];
      },
    });
    expect(runs).toBe(1);
    expect(last).toBe(failedAttempt);
    expect(reported).toBe(true);
  });
});

describe('waitBeforeRetry', () => {
  it('resolves interrupted at once for a signal aborted before or during the wait', async () => {
    const before = new AbortController();
    before.abort('stop');
    expect(await waitBeforeRetry(3_600_000, [before.signal])).toEqual({
      kind: 'interrupted',
      reason: 'stop',
    });
    const during = new AbortController();
    const waiting = waitBeforeRetry(3_600_000, [new AbortController().signal, during.signal]);
    during.abort('later');
    expect(await waiting).toEqual({ kind: 'interrupted', reason: 'later' });
  });

  it('resolves elapsed when nothing interrupts it', async () => {
    expect(await waitBeforeRetry(1, [new AbortController().signal])).toEqual({ kind: 'elapsed' });
  });
});

describe('a cancel that arrives as the steps end', () => {
  const cancelDuringCall = (which: number) => {
    const cancel = new AbortController();
    return { cancel, onRun: (call: number) => call === which && cancel.abort('cancelled') };
  };

  it('leaves the job as its steps ended when the last step exited on its own (fail-fast from another leg)', async () => {
    const { cancel, onRun } = cancelDuringCall(1);
    const executor = new ScriptedExecutor([exit(0)], onRun);
    const { result } = await run([step()], executor, { signal: cancel.signal });
    expect(result.outcome).toEqual({ kind: 'succeeded' });
  });

  it('cancels the job when a step was still to come', async () => {
    const { cancel, onRun } = cancelDuringCall(1);
    const executor = new ScriptedExecutor([exit(0), exit(0)], onRun);
    const { result, started } = await run([step(), step({ index: 1, id: 'next', name: 'next' })], executor, {
      signal: cancel.signal,
    });
    expect(result.outcome).toEqual({ kind: 'cancelled', reason: 'cancelled' });
    expect(started).toEqual([{ index: 0, attempt: 1 }]);
  });

  it('cancels the job when the step was interrupted, even if it was the last', async () => {
    const { cancel, onRun } = cancelDuringCall(1);
    const executor = new ScriptedExecutor([{ kind: 'cancelled', reason: 'cancelled' }], onRun);
    const { result } = await run([step()], executor, { signal: cancel.signal });
    expect(result.outcome).toEqual({ kind: 'cancelled', reason: 'cancelled' });
  });
});
