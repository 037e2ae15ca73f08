import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import { inheritedEnvironment } from '../../src/runner/step-environment.js';
import { credential, openEvents, readEvents, startTestServer, type TestServer } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/**
 * A real runner agent with the shell executor on the driver's WebSocket endpoint, as `valkyrie
 * runner` connects one; `flags` is a directory the steps use to fail only their first time.
 */
async function startAgent(server: TestServer): Promise<{ flags: string; stop(): void }> {
  const connected = await connectWebSocket<RunnerMessage, ControlMessage>({
    url: `${server.server.url.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${await credential(server.request, server.token)}` },
  });
  if (connected.kind !== 'connected') throw new Error(`runner could not connect: ${connected.reason}`);
  const workDir = mkdtempSync(join(server.dir, 'runner-'));
  const agent = new RunnerAgent(connected.transport, {
    info: { name: 'agent', labels: ['linux'], capacity: 2 },
    host: { os: 'Linux', arch: 'X64', name: 'agent' },
    createExecutor: () => new ShellExecutor(),
    tempRoot: join(workDir, 'tmp'),
    workDir,
    baseEnv: inheritedEnvironment(process.env),
    logFlushMs: 10,
  });
  agent.start();
  return { flags: mkdtempSync(join(server.dir, 'flags-')), stop: () => connected.transport.close() };
}

/** Fails (exit 1) the first time it runs with `name`, succeeds after. */
const failOnce = (flags: string, name: string) =>
  `if [ -e ${flags}/${name} ]; then echo ${name} ok; else touch ${flags}/${name}; echo ${name} failed; exit 1; fi`;

/** `build` fails its first attempt (job `retry:`), `fetch` its first step attempt (step `retry:`). */
const workflow = (flags: string) => `name: attempts
jobs:
  build:
    runs-on: linux
    retry: {max-attempts: 2, delay: 50ms}
    steps:
      - run: echo compiling
      - run: ${JSON.stringify(failOnce(flags, 'build'))}
  fetch:
    runs-on: linux
    steps:
      - run: ${JSON.stringify(failOnce(flags, 'fetch'))}
        retry: {max-attempts: 2, delay: 50ms}
      - run: echo fetched
  deploy:
    runs-on: linux
    needs: [build, fetch]
    steps:
      - run: echo deploying
`;

/** What must match between streams: the kind, its job, step, attempts, a line's text, a step's retry. */
function label(event: RunEvent): string {
  switch (event.type) {
    case 'run.started':
    case 'run.completed':
    case 'concurrency':
      return event.type;
    case 'job.queued':
    case 'job.started':
    case 'job.completed':
    case 'job.retrying':
      return `${event.type} a${event.attempt ?? 1}${event.type === 'job.completed' ? ` ${event.status}` : ''}`;
    case 'step.started':
      return `${event.type} a${event.jobAttempt ?? 1} #${event.index}.${event.attempt ?? 1}`;
    case 'step.completed':
      return `${event.type} a${event.jobAttempt ?? 1} #${event.step.index}.${event.step.attempt ?? 1} ${event.step.outcome}${event.step.retryDelayMs === undefined ? '' : ` retried after ${event.step.retryDelayMs}ms`}`;
    case 'log':
      return `log a${event.jobAttempt ?? 1} #${event.stepIndex}.${event.attempt ?? 1} ${event.text}`;
  }
}

/** The stream's events per job (by name), in order; run-level events under `run`. */
function perJob(events: readonly RunEvent[]): Record<string, string[]> {
  const jobs: Record<string, string[]> = {};
  for (const event of events) {
    const job =
      event.type === 'run.started' || event.type === 'run.completed' || event.type === 'concurrency'
        ? 'run'
        : 'name' in event
          ? event.name
          : event.job;
    jobs[job] ??= [];
    jobs[job].push(label(event));
  }
  return jobs;
}

const eventsOf = (streamed: [string, unknown, string | undefined][]) =>
  streamed.map(([, data]) => data as RunEvent);

function replayScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () => startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });

  it(`${name}: a run followed from the store while it runs, and replayed from it once finished (on the driver and on another replica), holds every attempt of every job and step as the live stream did`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const agent = await startAgent(driver);
    const created = await driver.request('POST', '/api/v1/runs', {
      body: { workflow: workflow(agent.flags) },
    });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    const url = (server: TestServer) => `${server.server.url}/api/v1/runs/${runId}/events`;
    const stream = await openEvents(url(driver), read);
    // Followed from the store while the run goes on: the same, up to each read's lag.
    const following = readEvents(url(other), read);
    const live: RunEvent[] = [];
    for (let event = await stream.next(); event !== undefined; event = await stream.next())
      live.push(event[1] as RunEvent);
    agent.stop();
    const expected = perJob(live);
    // The live run did what the test is about: a job's retried attempt and a step's.
    expect(expected.build).toContain('job.retrying a2');
    // The control plane's line on the retry ends the retried attempt's log, in replays too.
    const retryLine = expected.build?.find((label) =>
      label.startsWith('log a1 #-1.1 attempt 1 of 2 failed ('),
    );
    expect(retryLine).toMatch(/ failed with exit code 1\); retrying in 50ms$/);
    expect(expected.build?.indexOf('job.retrying a2')).toBe(
      (expected.build?.indexOf(retryLine ?? '') ?? 0) + 1,
    );
    expect(expected.build).toContain('step.completed a1 #1.1 failure');
    expect(expected.fetch).toContain('step.started a1 #0.2');
    expect(expected.fetch).toContain('step.completed a1 #0.1 failure retried after 50ms');
    expect(live.at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    const replays = {
      following: perJob(eventsOf(await following)),
      driver: perJob(eventsOf(await readEvents(url(driver), read))),
      other: perJob(eventsOf(await readEvents(url(other), read))),
    };
    expect(replays).toEqual({ following: expected, driver: expected, other: expected });
  });
}

onBothStores('replaying a finished run from the store', replayScenarios);
