import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { protocolUrls } from '../../src/cli/runner-options.js';
import { asRunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { type AutoTransport, connectAuto } from '../../src/protocol/auto.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import { inheritedEnvironment } from '../../src/runner/step-environment.js';
import {
  credential,
  jobCompleted,
  jobOf,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';
import { openSession, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

async function runOne(live: TestServer): Promise<string> {
  const created = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  const runId = (created.body as { run: { id: string } }).run.id;
  await waitForRunStatus(live.request, runId, 'succeeded');
  return runId;
}

function portOf(live: TestServer): number {
  return Number(new URL(live.server.url).port);
}

/**
 * A runner agent as `valkyrie runner` runs one: AutoTransport (WebSocket, long-poll as fallback),
 * registering again and sending its recent completions again on every new session.
 */
async function startAgent(live: TestServer, secret: string) {
  const connected = await connectAuto<RunnerMessage, ControlMessage>({
    ...protocolUrls(live.server.url),
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${secret}` },
    backoff: { baseMs: 20, capMs: 100 },
  });
  if (connected.kind !== 'connected') throw new Error(`runner could not connect: ${connected.reason}`);
  const transport: AutoTransport<RunnerMessage, ControlMessage> = connected.transport;
  const workDir = mkdtempSync(join(live.dir, 'runner-'));
  const agent = new RunnerAgent(transport, {
    info: { name: 'agent', labels: ['linux'], capacity: 1 },
    host: { os: 'Linux', arch: 'X64', name: 'agent' },
    createExecutor: () => new ShellExecutor(),
    tempRoot: join(workDir, 'tmp'),
    workDir,
    baseEnv: inheritedEnvironment(process.env),
    logFlushMs: 10,
    switches: transport,
  });
  let sessions = 0;
  transport.onSwitch(() => sessions++);
  agent.start();
  return { transport, sessions: () => sessions };
}

/**
 * The runner messages that the server started next receives, on every session: its ControlPlane's
 * `connect` is spied on, and each transport handed to it is listened to before the control plane is.
 */
function receivedByNextServer(): { readonly messages: RunnerMessage[]; restore(): void } {
  const messages: RunnerMessage[] = [];
  const connect = ControlPlane.prototype.connect;
  const spy = vi.spyOn(ControlPlane.prototype, 'connect').mockImplementation(function (
    this: ControlPlane,
    transport,
    identity,
  ) {
    transport.onMessage((message) => messages.push(message));
    connect.call(this, transport, identity);
  });
  return { messages, restore: () => spy.mockRestore() };
}

/**
 * Until `restore`, the servers started tell their runners nothing in `completions.stored`: as a server
 * killed after it stored a job's end but before its answer went out, which leaves the completion in
 * doubt on the runner.
 */
function withoutCompletionAcks(): { restore(): void } {
  const connect = ControlPlane.prototype.connect;
  const spy = vi.spyOn(ControlPlane.prototype, 'connect').mockImplementation(function (
    this: ControlPlane,
    transport,
    identity,
  ) {
    const send = transport.send.bind(transport);
    transport.send = (message) => {
      if (message.type !== 'completions.stored') send(message);
    };
    connect.call(this, transport, identity);
  });
  return { restore: () => spy.mockRestore() };
}

/**
 * The server a runner talks to restarts (or a load balancer moves the runner to another replica)
 * shortly after a job ended, before its answer that it stored the job's end went out: the runner sends
 * that job's completion again, since the old connection may have lost it. The new process never saw the lease, but the store holds the job's end as that
 * completion reported it: the copy is taken quietly, not refused and kept as a stale write.
 */
function resentCompletionScenarios(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a completion sent again reaches the restarted server and is taken quietly: no error, no stale write`, async () => {
    const unanswered = withoutCompletionAcks();
    const { runner, runId, jobId, port } = await (async () => {
      try {
        const first = await startTestServer({ stores: await openStores() });
        const secret = await credential(first.request, first.token);
        const runner = await startAgent(first, secret);
        const runId = await runOne(first);
        const { id: jobId } = await jobOf(first, runId);
        const port = portOf(first);
        await first.server.destroy();
        return { runner, runId, jobId, port };
      } finally {
        unanswered.restore();
      }
    })();

    const received = receivedByNextServer();
    const refused: ControlMessage[] = [];
    const stored: { jobId: string; fencingToken: number }[] = [];
    runner.transport.onMessage((message) => {
      if (message.type === 'error') refused.push(message);
      if (message.type === 'completions.stored') stored.push(...message.jobs);
    });
    try {
      const second = await startTestServer({ stores: await openStores(), port });
      await until(() => runner.sessions() >= 1, 'the runner is on the new server');
      // Another job, after the completion sent again on the same session: that one was handled first.
      await runOne(second);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The new server got the job's completion again (on each new session), announced by the
      // register before it; it was neither refused to the runner nor kept as a stale write.
      const again = received.messages.filter((m) => m.type === 'job.completed' && m.jobId === jobId);
      expect(again.length).toBeGreaterThanOrEqual(1);
      expect(again).toEqual(again.map(() => expect.objectContaining({ outcome: { kind: 'succeeded' } })));
      expect(refused).toEqual([]);
      expect((await jobOf(second, runId)).staleWrites).toEqual([]);
      const resumed = received.messages.flatMap((m) => (m.type === 'register' ? (m.resume ?? []) : []));
      expect(resumed).toContainEqual(expect.objectContaining({ jobId, completed: true }));
      // The store holds that end, so the new server says so: the runner need keep it no longer.
      // (Once for each copy that came on a session still open when its answer was ready.)
      const [fencingToken] = again.flatMap((m) => (m.type === 'job.completed' ? [m.fencingToken] : []));
      const acknowledged = stored.filter((ref) => ref.jobId === jobId);
      expect(acknowledged.length).toBeGreaterThan(0);
      expect(acknowledged).toEqual(acknowledged.map(() => ({ jobId, fencingToken })));
    } finally {
      received.restore();
      runner.transport.close('done');
    }
  }, 20_000);

  it(`${name}: a different result under the committed token is still refused and kept`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const secret = await credential(first.request, first.token);
    const runner = await startAgent(first, secret);
    const runId = await runOne(first);
    const stores = await openStores();
    const [stored] = await stores.runs.listJobs(asRunId(runId));
    await stores.close();
    const fencingToken = stored?.fencingToken;
    if (stored === undefined || fencingToken === undefined) throw new Error('the job has no fencing token');
    const jobId = stored.id;
    runner.transport.close('done');
    await first.server.destroy();

    const second = await startTestServer({ stores: await openStores() });
    const lease = { jobId, fencingToken };
    const back = await openSession(second.server.url, secret, [{ ...lease, completed: true }], {
      completionsStored: true,
    });
    // The same end again: quiet. Then another end under the same token: refused and kept.
    back.transport.send(jobCompleted(lease, { kind: 'succeeded' }));
    back.transport.send(jobCompleted(lease, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }));
    await until(async () => (await jobOf(second, runId)).staleWrites.length > 0, 'the different end is kept');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await jobOf(second, runId)).staleWrites).toEqual([
      expect.objectContaining({ messageType: 'job.completed', fencingToken }),
    ]);
    expect(back.refused).toEqual([expect.objectContaining({ type: 'error', refused: 'job.completed' })]);
    // The copy is acknowledged, the different end is not.
    expect(back.stored).toEqual([lease]);
    back.transport.close('done');
  }, 20_000);
}

onBothStores('a runner sending a completion again after a reconnect', resentCompletionScenarios);
