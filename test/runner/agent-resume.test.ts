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
import { type DeregisterEnd, RunnerAgent } from '../../src/runner/agent.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { orAfter } from '../core/race-timeout.js';
import { eventually, runRequest as request } from '../engine/plane-fixtures.js';

/** Every step runs until the test finishes it; `print` writes a line of the running step's output. */
class GatedExecutor implements Executor {
  private readonly finishers: ((outcome: ProcessOutcome) => void)[] = [];
  private readonly printers: RunStepOptions['onLine'][] = [];
  async prepare(): Promise<void> {}
  run(_step: StepProcess, options: RunStepOptions): Promise<ProcessOutcome> {
    this.printers.push(options.onLine);
    return new Promise((resolve) => this.finishers.push(resolve));
  }
  get waiting(): number {
    return this.finishers.length;
  }
  print(text: string): void {
    for (const print of this.printers) print({ stream: 'stdout', text, at: 1 });
  }
  finish(exitCode: number): void {
    this.printers.length = 0;
    for (const finish of this.finishers.splice(0)) finish({ kind: 'exited', exitCode });
  }
  async cleanup(): Promise<void> {}
}

/**
 * The runner's side of a connection that the test moves to a new session, as AutoTransport does:
 * `blackhole()` makes the current one swallow what is sent and hear nothing more (a socket that died
 * without a word); `cutOff()` closes it and holds what is sent until the next session, which gets it
 * once the switch listeners have run. `heardAt` is when the session opened or last delivered a
 * message, or `keepAlive()` (a pong) was last called.
 */
class SwitchingTransport implements Transport<RunnerMessage, ControlMessage> {
  private end: Transport<RunnerMessage, ControlMessage>;
  private swallowing = false;
  private held: RunnerMessage[] | undefined;
  private readonly messageListeners: ((message: ControlMessage) => void)[] = [];
  private readonly switchListeners: (() => void)[] = [];
  private readonly lossListeners: ((loss: { readonly goingAway: boolean }) => void)[] = [];
  private readonly unreachableListeners: (() => void)[] = [];
  /** What the agent gave capRetryDelay: how far apart reconnect attempts may be now. */
  retryCeilingMs: () => number | undefined = () => undefined;
  heardAt: number | undefined;

  constructor(
    private readonly connect: () => Transport<RunnerMessage, ControlMessage>,
    private readonly now: () => number = Date.now,
  ) {
    this.end = this.attach(connect());
  }

  blackhole(): void {
    this.swallowing = true;
  }

  /** The server answered a keep-alive on the current session. */
  keepAlive(): void {
    if (this.held === undefined && !this.swallowing) this.heardAt = this.now();
  }

  /** `goingAway`: the server said it is shutting down (a WebSocket 1001, a long-poll VK_SHUTTING_DOWN). */
  cutOff(goingAway = false): void {
    this.end.close('network dropped');
    this.held = [];
    for (const listener of this.lossListeners) listener({ goingAway });
  }

  /** The old session closes (the server notices the drop); a new one opens and the agent registers. */
  switchSession(): void {
    if (this.held === undefined) for (const listener of this.lossListeners) listener({ goingAway: false });
    this.end.close('network dropped');
    this.swallowing = false;
    this.end = this.attach(this.connect());
    const held = this.held ?? [];
    this.held = undefined;
    for (const listener of this.switchListeners) listener();
    for (const message of held) this.end.send(message);
  }

  onSwitch(listener: () => void): void {
    this.switchListeners.push(listener);
  }

  onLost(listener: (loss: { readonly goingAway: boolean }) => void): void {
    this.lossListeners.push(listener);
  }

  onUnreachable(listener: () => void): void {
    this.unreachableListeners.push(listener);
  }

  /** A round of reconnect attempts reached no server (no session is up meanwhile). */
  unreachable(): void {
    for (const listener of this.unreachableListeners) listener();
  }

  capRetryDelay(ceilingMs: () => number | undefined): void {
    this.retryCeilingMs = ceilingMs;
  }

  /** As AutoTransport's: undefined while cut off (what is sent is held), else the session's. */
  get kind(): string | undefined {
    return this.held === undefined ? 'test' : undefined;
  }

  send(message: RunnerMessage): void {
    if (this.held !== undefined) this.held.push(message);
    else if (!this.swallowing) this.end.send(message);
  }
  onMessage(listener: (message: ControlMessage) => void): void {
    this.messageListeners.push(listener);
  }
  onClose(): void {}
  close(reason?: string): void {
    this.end.close(reason);
  }
  reject(error: ProtocolError): void {
    this.end.reject(error);
  }

  private attach(end: Transport<RunnerMessage, ControlMessage>): Transport<RunnerMessage, ControlMessage> {
    this.heardAt = this.now();
    end.onMessage((message) => {
      if (end !== this.end || this.swallowing) return;
      this.heardAt = this.now();
      for (const listener of this.messageListeners) listener(message);
    });
    return end;
  }
}

/** `agent.deregister('stopping', timeoutMs)`, and its answer once it came (undefined until then). */
function deregistering(agent: RunnerAgent, timeoutMs: number) {
  let answer: DeregisterEnd | undefined;
  const leaving = agent.deregister('stopping', timeoutMs).then((answered) => {
    answer = answered;
    return answered;
  });
  return { leaving, answer: () => answer };
}

describe('RunnerAgent across a session switch', () => {
  const dirs: string[] = [];
  const open: Stores[] = [];
  afterEach(async () => {
    for (const stores of open.splice(0)) await stores.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function runnerOnPlane(clock?: ManualClock) {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-agent-resume-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    open.push(stores);
    const plane = new ControlPlane(stores, { leaseTtlMs: 60_000 });
    const events: RunEvent[] = [];
    plane.onEvent((event) => events.push(event));
    const transport = new SwitchingTransport(
      () => {
        const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
        plane.connect(control, { runnerId: 'rnr_1' });
        return runner;
      },
      clock === undefined ? Date.now : () => clock.now(),
    );
    const executor = new GatedExecutor();
    const agent = new RunnerAgent(transport, {
      info: { name: 'r', labels: ['x'], capacity: 1 },
      host: { os: 'Linux', arch: 'X64', name: 'r' },
      createExecutor: () => executor,
      tempRoot: join(dir, 'tmp'),
      workDir: dir,
      baseEnv: { PATH: '/usr/bin:/bin' },
      switches: transport,
      ...(clock === undefined ? {} : { clock }),
    });
    agent.start();
    const workflow = parseWorkflow(
      'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "long" }]\n',
      'w.yml',
    ).workflow;
    if (!workflow) throw new Error('workflow did not parse');
    const handle = await plane.startRun(workflow, request);
    while (executor.waiting === 0) await settle();
    return { stores, plane, events, transport, executor, agent, handle };
  }

  /** A runner whose job ended, once the control plane said it stored the end (it holds nothing). */
  async function endedAndAcknowledged() {
    const onPlane = await runnerOnPlane();
    onPlane.executor.finish(0);
    expect(await onPlane.handle.done).toBe('succeeded');
    await eventually('acknowledged', () => onPlane.transport.retryCeilingMs() === undefined);
    return onPlane;
  }

  it('sends again a completion the old connection swallowed: the job completes once', async () => {
    const { stores, plane, events, transport, executor, agent, handle } = await runnerOnPlane();
    transport.blackhole();
    executor.finish(0);
    while (agent.running > 0) await settle();
    await settle();
    expect(events.filter((e) => e.type === 'job.completed')).toEqual([]);
    transport.switchSession();
    expect(await handle.done).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.started')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect(plane.runners()).toEqual([expect.objectContaining({ id: 'rnr_1', connected: true, running: 0 })]);
    await agent.drain();
  });

  // The completion went into a socket that died. The runner leaves before the drop is noticed (its
  // deregister is lost too), or after (a deregister would be held for the next session, ahead of the
  // completion sent again): either way it says it is leaving only after that completion.
  it.each([
    ['before', false],
    ['after', true],
  ])(
    'says it is leaving only after the completion it sends again, leaving %s the drop is noticed',
    async (_, noticed) => {
      const { stores, events, transport, executor, agent, handle } = await runnerOnPlane();
      transport.blackhole();
      executor.finish(0);
      while (agent.running > 0) await settle();
      if (noticed) transport.cutOff();
      const leaving = agent.deregister('stopping', 5_000);
      await settle();
      transport.switchSession();
      expect(await orAfter(handle.done, 3_000, 'not ended within 3 s')).toBe('succeeded');
      expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
      expect(await stores.staleWrites.list()).toEqual([]);
      expect(await leaving).toBe('answered');
    },
  );

  // Stopped while cut off, it would have left without the completion it holds (the deregister's
  // timeout ran out before any server was up), and the job would have run again. It waits for a
  // session instead, however long, and leaves once the server has answered after that completion.
  it('stopping while cut off, it waits for a session to hand over its completion before it leaves', async () => {
    const { events, transport, executor, agent, handle } = await runnerOnPlane();
    transport.cutOff();
    executor.finish(0);
    await agent.drain('stopping');
    expect(agent.resultsAwaitingServer).toBe(1);
    const { leaving, answer } = deregistering(agent, 50);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answer()).toBeUndefined();
    transport.switchSession();
    expect(agent.resultsAwaitingServer).toBe(0);
    expect(await leaving).toBe('answered');
    expect(await handle.done).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
  });

  // The session that carried the deregister is lost before the answer: its wait stops, and the next
  // session's starts afresh; it does not run out while no server can answer.
  it('waits again on the next session when the one that carried its deregister is lost', async () => {
    const { transport, executor, agent, handle } = await runnerOnPlane();
    transport.cutOff();
    executor.finish(0);
    await agent.drain('stopping');
    const { leaving, answer } = deregistering(agent, 50);
    transport.switchSession();
    transport.blackhole();
    await settle();
    transport.cutOff();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answer()).toBeUndefined();
    transport.switchSession();
    expect(await leaving).toBe('answered');
    expect(await handle.done).toBe('succeeded');
  });

  // The server went away (a shutdown) after it stored the job's end: the runner holds nothing for it,
  // so it need not wait for it to come back before it stops.
  it('holds no completion the control plane said it stored (completions.stored)', async () => {
    const { transport, agent } = await endedAndAcknowledged();
    transport.cutOff();
    expect(agent.resultsAwaitingServer).toBe(0);
    expect(transport.retryCeilingMs()).toBeUndefined();
  });

  // Stopped together with its server (systemd at host shutdown): the server goes away before it
  // answers the deregister, and no server answers the reconnect. Holding nothing, the runner stops
  // then, not after the answer's wait.
  it('stops once its server went away and none answers after, holding nothing', async () => {
    const { transport, agent } = await endedAndAcknowledged();
    await agent.drain('stopping');
    transport.blackhole();
    const { leaving, answer } = deregistering(agent, 60_000);
    const waits = async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answer()).toBeUndefined();
    };
    // Lost for another reason, or no reconnect tried yet: the session may be back at once.
    transport.cutOff();
    transport.unreachable();
    await waits();
    transport.switchSession();
    transport.blackhole();
    transport.cutOff(true);
    await waits();
    transport.unreachable();
    expect(await orAfter(leaving, 1_000, 'still waiting 1 s after no server answered')).toBe('server gone');
  });

  // Another replica behind the address took the session (or the server restarted): it is not gone.
  it('waits for the answer when a session came up after its server went away', async () => {
    const { transport, agent } = await endedAndAcknowledged();
    transport.cutOff(true);
    transport.switchSession();
    transport.blackhole();
    transport.cutOff();
    transport.unreachable();
    await agent.drain('stopping');
    const { answer } = deregistering(agent, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answer()).toBeUndefined();
    transport.switchSession();
    await eventually('answered', () => answer() === 'answered');
  });

  it('stops at once when its server went away before it deregisters, holding nothing', async () => {
    const { transport, agent } = await endedAndAcknowledged();
    transport.cutOff(true);
    transport.unreachable();
    await agent.drain('stopping');
    expect(await orAfter(agent.deregister('stopping', 60_000), 1_000, 'still waiting after 1 s')).toBe(
      'server gone',
    );
    // A session up again since: the deregister goes out on it and is answered.
    transport.switchSession();
    expect(await agent.deregister('stopping', 60_000)).toBe('answered');
  });

  // Holding a completion, it still waits for the next session, whichever server that is.
  it('waits for a session to hand over its completion also when the server went away', async () => {
    const { transport, executor, agent, handle } = await runnerOnPlane();
    transport.blackhole();
    executor.finish(0);
    await agent.drain('stopping');
    const { leaving, answer } = deregistering(agent, 50);
    transport.cutOff(true);
    transport.unreachable();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answer()).toBeUndefined();
    transport.switchSession();
    expect(await leaving).toBe('answered');
    expect(await handle.done).toBe('succeeded');
  });

  it('gives up waiting for a session when told to: the deregister ends unanswered', async () => {
    const { transport, executor, agent } = await runnerOnPlane();
    transport.cutOff();
    executor.finish(0);
    await agent.drain('stopping');
    const giveUp = new AbortController();
    const leaving = agent.deregister('stopping', 60_000, giveUp.signal);
    await settle();
    giveUp.abort();
    expect(await leaving).toBe('unanswered');
    expect(agent.resultsAwaitingServer).toBe(1);
  });

  // The server was down for longer than a lease TTL after the job ended (a restarted server holds the
  // lease for one TTL from its restart): the runner still lists the job and sends its completion.
  it('keeps a completion made while cut off for longer than its lease TTL: the job completes once', async () => {
    const clock = new ManualClock();
    const { stores, events, transport, executor, agent, handle } = await runnerOnPlane(clock);
    // While it holds the lease, it reconnects at least as often as it renews (a third of 60 s).
    expect(transport.retryCeilingMs()).toBe(20_000);
    transport.cutOff();
    executor.print('printed while cut off');
    executor.finish(0);
    while (agent.running > 0) await settle();
    await clock.advance(5 * 60_000);
    expect(transport.retryCeilingMs()).toBe(20_000);
    transport.switchSession();
    expect(await orAfter(handle.done, 3_000, 'not ended within 3 s')).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.started')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect((await stores.logs.read(handle.id)).map((line) => line.text)).toContain('printed while cut off');
    // Sent again on a session that stayed up for the TTL: the control plane has it; nothing is held.
    await clock.advance(60_000);
    transport.keepAlive();
    transport.switchSession();
    expect(transport.retryCeilingMs()).toBeUndefined();
    await agent.drain();
  });

  // The completion went into a connection already dead; the loss is noticed (a keep-alive timing out)
  // more than a lease TTL later. That time is not up-time: the server was last heard before it.
  it('keeps a completion sent on a dead connection however late its loss is noticed', async () => {
    const clock = new ManualClock();
    const { stores, events, transport, executor, agent, handle } = await runnerOnPlane(clock);
    transport.blackhole();
    await clock.advance(1_000);
    executor.finish(0);
    while (agent.running > 0) await settle();
    await clock.advance(2 * 60_000);
    transport.keepAlive(); // Nothing answers on the dead connection.
    transport.cutOff();
    expect(transport.retryCeilingMs()).toBe(20_000);
    transport.switchSession();
    expect(await orAfter(handle.done, 3_000, 'not ended within 3 s')).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
    expect(await stores.staleWrites.list()).toEqual([]);
    // The control plane said it stored it (completions.stored): nothing is held any more, and the
    // reconnect pace is the usual one again, without waiting a TTL or for another switch.
    await eventually('acknowledged', () => transport.retryCeilingMs() === undefined);
    await agent.drain();
  });

  it('sends the lines and the completion of a job that ended while it was cut off in their order', async () => {
    const { stores, events, transport, executor, agent, handle } = await runnerOnPlane();
    transport.cutOff();
    executor.print('printed while cut off');
    executor.finish(0);
    while (agent.running > 0) await settle();
    transport.switchSession();
    expect(await handle.done).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
    expect(await stores.staleWrites.list()).toEqual([]);
    const lines = await stores.logs.read(handle.id);
    expect(lines.map((line) => line.text)).toContain('printed while cut off');
    await agent.drain();
  });
});
