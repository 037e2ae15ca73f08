import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessOutcome } from '../../src/core/outcome.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { Executor, RunStepOptions, StepProcess } from '../../src/executors/contract.js';
import type { ProtocolError } from '../../src/protocol/frame.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import type { SessionSwitches } from '../../src/runner/session-switches.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { runRequest as request } from '../engine/plane-fixtures.js';
import { accepting, ScriptedRunner } from '../engine/scripted-runner.js';
import { until } from './fleet-harness.js';

const parsedLongJob = parseWorkflow('jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "long" }]\n', 'w.yml');
// Thrown while the file loads: every test below needs the workflow, so none may pass without it.
if (!parsedLongJob.workflow)
  throw new Error(`the test workflow did not parse: ${JSON.stringify(parsedLongJob.diagnostics)}`);
const longJob = parsedLongJob.workflow;

/** Every step runs until the test ends it, or until it is cancelled. */
class GatedExecutor implements Executor {
  private readonly finishers: ((outcome: ProcessOutcome) => void)[] = [];

  async prepare(): Promise<void> {}

  run(_step: StepProcess, options: RunStepOptions): Promise<ProcessOutcome> {
    return new Promise((resolve) => {
      this.finishers.push(resolve);
      options.signal.addEventListener('abort', () => resolve({ kind: 'cancelled', reason: 'aborted' }), {
        once: true,
      });
    });
  }

  finish(exitCode: number): void {
    for (const finish of this.finishers.splice(0)) finish({ kind: 'exited', exitCode });
  }

  async cleanup(): Promise<void> {}
}

/** The runner's end of a connection, with every message it sends recorded. */
function tapped(end: Transport<RunnerMessage, ControlMessage>, sent: RunnerMessage[]) {
  return {
    send: (message: RunnerMessage) => {
      sent.push(message);
      end.send(message);
    },
    onMessage: (listener: (message: ControlMessage) => void) => end.onMessage(listener),
    onClose: (listener: (reason: string) => void) => end.onClose(listener),
    close: (reason?: string) => end.close(reason),
    reject: (error: ProtocolError) => end.reject(error),
  } satisfies Transport<RunnerMessage, ControlMessage>;
}

describe('RunnerAgent leases', () => {
  const dirs: string[] = [];
  const open: Stores[] = [];
  afterEach(async () => {
    for (const stores of open.splice(0)) await stores.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function setup(leaseTtlMs: number) {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-agent-leases-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    open.push(stores);
    const clock = new ManualClock();
    const plane = new ControlPlane(stores, { leaseTtlMs, clock });
    const events: RunEvent[] = [];
    plane.onEvent((event) => events.push(event));
    return { dir, clock, plane, events };
  }

  function agent(
    dir: string,
    clock: ManualClock,
    transport: Transport<RunnerMessage, ControlMessage>,
    more: { readonly switches?: SessionSwitches } = {},
  ) {
    const executor = new GatedExecutor();
    const runner = new RunnerAgent(transport, {
      info: { name: 'r', labels: ['x'], capacity: 1 },
      host: { os: 'Linux', arch: 'X64', name: 'r' },
      createExecutor: () => executor,
      tempRoot: dir,
      baseEnv: { PATH: '/usr/bin:/bin' },
      clock,
      ...more,
    });
    return { executor, runner };
  }

  it('renews at a third of the TTL, so a job running ten TTLs long keeps its one lease', async () => {
    const { dir, clock, plane, events } = setup(60_000);
    const [control, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
    plane.connect(control);
    const sent: RunnerMessage[] = [];
    const { executor, runner } = agent(dir, clock, tapped(runnerEnd, sent));
    runner.start();
    const handle = await plane.startRun(longJob, request);
    await settle();
    await clock.advance(19_999);
    expect(sent.filter((m) => m.type === 'renew')).toHaveLength(0);
    await clock.advance(1);
    expect(sent.filter((m) => m.type === 'renew')).toHaveLength(1);
    await clock.advance(600_000);
    expect(sent.filter((m) => m.type === 'renew')).toHaveLength(31);
    executor.finish(0);
    expect(await handle.done).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.queued')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'job.started')).toHaveLength(1);
    // No renewals once the job is done.
    await clock.advance(600_000);
    expect(sent.filter((m) => m.type === 'renew')).toHaveLength(31);
    await runner.drain();
  });

  /**
   * A lease on a long job, taken by a scripted runner so that the test holds a real job spec to hand
   * to an agent, and the control end of a connection for that agent, whose messages are recorded.
   */
  async function leaseToHandOver(plane: ControlPlane) {
    const holder = new ScriptedRunner(plane, accepting);
    await plane.startRun(longJob, request);
    await settle();
    const [lease] = holder.of('lease');
    if (!lease) throw new Error('no lease');
    const [control, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
    const received: RunnerMessage[] = [];
    control.onMessage((message) => received.push(message));
    return { lease, control, runnerEnd, received };
  }

  it('cancels its job when the control plane refuses its lease as stale', async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    const clock = new ManualClock();
    const { runner } = agent(dir, clock, runnerEnd);
    control.send({ ...lease, ttlMs: 3_000 });
    await settle();
    await clock.advance(1_000);
    expect(received).toContainEqual({ type: 'renew', jobId: lease.jobId, fencingToken: lease.fencingToken });
    control.send({
      type: 'error',
      code: 'VK_STALE_LEASE',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken,
      refused: 'renew',
      message: 'stale',
    });
    await runner.drain();
    const completed = received.find((m) => m.type === 'job.completed');
    expect(completed).toMatchObject({ fencingToken: lease.fencingToken, outcome: { kind: 'cancelled' } });
  });

  // On a link whose backlog delays the completion (long-poll), the lease must outlive the process.
  it('renews the lease after its job ends, until the control plane says it stored the completion', async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    const clock = new ManualClock();
    const switches: SessionSwitches = {
      onSwitch: () => {},
      onLost: () => {},
      kind: 'long-poll',
      heardAt: undefined,
    };
    const { executor, runner } = agent(dir, clock, runnerEnd, { switches });
    control.send({ ...lease, ttlMs: 60_000 });
    await settle();
    executor.finish(0);
    await until(() => received.some((m) => m.type === 'job.completed'), 'the job to complete');
    const renewals = () => received.filter((m) => m.type === 'renew').length;
    const before = renewals();
    // Within the TTL after the job ended (past it, the completion is taken as settled): renewed at a
    // third of it still.
    await clock.advance(20_000);
    await settle();
    const renewed = renewals();
    expect(renewed).toBe(before + 1);
    control.send({
      type: 'completions.stored',
      jobs: [{ jobId: lease.jobId, fencingToken: lease.fencingToken }],
    });
    await settle();
    // Another third, still within the TTL: the answer alone stops the renewals.
    await clock.advance(20_000);
    await settle();
    expect(renewals()).toBe(renewed);
    await runner.drain();
  });

  it("sends an ended job's step reports again on a new session until its completion is stored", async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    let switched = () => {};
    const switches: SessionSwitches = {
      onSwitch: (listener) => {
        switched = listener;
      },
      onLost: () => {},
      kind: 'websocket',
      heardAt: undefined,
    };
    const { executor, runner } = agent(dir, new ManualClock(), runnerEnd, { switches });
    control.send({ type: 'registered', runnerId: 'r1', logStored: true });
    control.send(lease);
    await settle();
    executor.finish(0);
    await until(() => received.some((m) => m.type === 'job.completed'), 'the job to complete');
    const { jobId, fencingToken } = lease;
    // The step printed nothing, so no log.stored covers its reports: after a dropped connection the
    // new session gets them again, before the completion.
    received.length = 0;
    switched();
    await settle();
    expect(received.map((m) => m.type)).toEqual([
      'register',
      'step.started',
      'step.completed',
      'job.completed',
    ]);
    control.send({ type: 'completions.stored', jobs: [{ jobId, fencingToken }] });
    await settle();
    received.length = 0;
    switched();
    await settle();
    expect(received.map((m) => m.type)).toEqual(['register']);
    await runner.drain();
  });

  it('declines an offer of a job it still runs an earlier attempt of, whatever its free slots', async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    const executor = new GatedExecutor();
    const runner = new RunnerAgent(runnerEnd, {
      info: { name: 'r', labels: ['x'], capacity: 2 },
      host: { os: 'Linux', arch: 'X64', name: 'r' },
      createExecutor: () => executor,
      tempRoot: dir,
      baseEnv: { PATH: '/usr/bin:/bin' },
      clock: new ManualClock(),
    });
    control.send(lease);
    await settle();
    control.send({ type: 'offer', jobId: lease.jobId, name: 'again', ttlMs: 30_000 });
    control.send({ type: 'offer', jobId: 'another-job', name: 'other', ttlMs: 30_000 });
    await settle();
    expect(received.filter((m) => m.type === 'accept' || m.type === 'decline')).toEqual([
      { type: 'decline', jobId: lease.jobId, reason: 'still running an earlier attempt' },
      { type: 'accept', jobId: 'another-job' },
    ]);
    executor.finish(0);
    await runner.drain();
  });

  /** The job's own lines (step -1) the runner sent, and its completion's outcome. */
  const jobLines = (received: readonly RunnerMessage[]) =>
    received.flatMap((m) =>
      m.type === 'log' ? m.entries.filter((e) => e.stepIndex === -1).map((e) => e.text) : [],
    );
  const outcomeOf = (received: readonly RunnerMessage[]) =>
    received.find((m) => m.type === 'job.completed')?.outcome;

  it('ends a job the control plane cancels for the reason it gave, its log saying why once', async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    const { runner } = agent(dir, new ManualClock(), runnerEnd);
    control.send(lease);
    await settle();
    const reason = 'cancelled by a newer run of concurrency group "deploy"';
    control.send({ type: 'cancel', jobId: lease.jobId, reason, immediate: false });
    control.send({ type: 'cancel', jobId: lease.jobId, reason: 'the run was cancelled', immediate: true });
    await runner.drain();
    expect(outcomeOf(received)).toEqual({ kind: 'cancelled', reason });
    expect(jobLines(received)).toEqual([`cancelling the job: ${reason}`]);
  });

  it('ends the jobs it cancels itself (a second signal) for its own reason', async () => {
    const { dir, plane } = setup(60_000);
    const { lease, control, runnerEnd, received } = await leaseToHandOver(plane);
    const { runner } = agent(dir, new ManualClock(), runnerEnd);
    control.send(lease);
    await settle();
    const reason = 'the runner is shutting down (second SIGTERM)';
    runner.cancelAll(reason, false);
    await runner.drain();
    expect(outcomeOf(received)).toEqual({ kind: 'cancelled', reason });
    expect(jobLines(received)).toEqual([`cancelling the job: ${reason}`]);
  });

  it('a run cancelled for a reason: its job on an agent is stored with it, and its log says it', async () => {
    const { dir, clock, plane } = setup(60_000);
    const [control, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
    plane.connect(control);
    const { runner } = agent(dir, clock, runnerEnd);
    runner.start();
    const handle = await plane.startRun(longJob, request);
    await settle();
    handle.cancel(false, 'the run was interrupted (SIGINT)');
    expect(await handle.done).toBe('cancelled');
    const stores = open.at(-1);
    const [job] = (await stores?.runs.listJobs(handle.id)) ?? [];
    expect(job).toMatchObject({ status: 'cancelled', reason: 'the run was interrupted (SIGINT)' });
    const lines = ((await stores?.logs.read(handle.id)) ?? []).map((line) => line.text);
    expect(lines.filter((text) => text.startsWith('cancelling'))).toEqual([
      'cancelling the job: the run was interrupted (SIGINT)',
    ]);
    await runner.drain();
  });
});
