import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane, type RunRequest } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import type { Workflow } from '../../src/workflow/model.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { ManualClock, settle } from '../core/manual-clock.js';

const request: RunRequest = {
  workflowName: 'w',
  workspace: '/tmp',
  actor: 't',
  vars: {},
  secrets: {},
  envOverrides: {},
};

type Answer = (message: ControlMessage, send: (message: RunnerMessage) => void, close: () => void) => void;

/** A runner driven by the test: it answers what it is sent as told. */
function scriptedRunner(plane: ControlPlane, answer: Answer): void {
  const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
  plane.connect(control);
  runner.onMessage((message) =>
    answer(
      message,
      (reply) => runner.send(reply),
      () => runner.close('connection reset'),
    ),
  );
  runner.send({ type: 'register', version: 1, runner: { name: 'r', labels: ['x'], capacity: 1 } });
}

function workflow(yaml: string): Workflow {
  const parsed = parseWorkflow(yaml, 'w.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

describe('ControlPlane job retries', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function plane(clock?: ManualClock): { plane: ControlPlane; stores: Stores; events: RunEvent[] } {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-plane-retry-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const stores = openSqliteStores(join(dir, 'state.db'));
    cleanups.push(() => stores.close());
    const events: RunEvent[] = [];
    const controlPlane = new ControlPlane(stores, clock ? { clock } : {});
    controlPlane.onEvent((event) => events.push(event));
    return { plane: controlPlane, stores, events };
  }

  it('with on-runner-lost: fail, retries a job whose runner was lost on another runner, storing both attempts', async () => {
    const { plane: p, stores, events } = plane();
    scriptedRunner(p, (m, send, close) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        send({
          type: 'step.started',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          index: 0,
          name: 's',
          at: 1,
        });
        send({
          type: 'log',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'first runner' }],
        });
        setTimeout(close, 5);
      }
    });
    const handle = await p.startRun(
      workflow(`jobs:
  a:
    runs-on: x
    on-runner-lost: fail
    retry: {max-attempts: 2, delay: 1ms, when: [runner-lost]}
    steps: [{ run: "true" }]
`),
      request,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        const token = { jobId: m.jobId, fencingToken: m.fencingToken };
        send({ type: 'step.started', ...token, index: 0, name: 's', at: 2 });
        send({ type: 'log', ...token, entries: [{ stepIndex: 0, stream: 'stdout', at: 2, text: 'second' }] });
        send({
          type: 'step.completed',
          ...token,
          step: { index: 0, name: 's', outcome: 'success', conclusion: 'success', finishedAt: 3 },
        });
        send({ type: 'job.completed', ...token, outcome: { kind: 'succeeded' }, outputs: {}, at: 3 });
      }
    });
    expect(await handle.done).toBe('succeeded');
    expect(events.find((e) => e.type === 'job.retrying')).toMatchObject({
      attempt: 2,
      delayMs: 1,
      reason: 'runner_lost: connection reset',
    });
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'succeeded', attempt: 2 });
    if (!job) throw new Error('no job');
    expect(await stores.runs.listJobAttempts(job.id)).toMatchObject([
      { attempt: 1, status: 'failed', reason: 'runner_lost: connection reset' },
    ]);
    expect((await stores.runs.listSteps(job.id)).map((step) => [step.jobAttempt ?? 1, step.outcome])).toEqual(
      [
        [1, undefined],
        [2, 'success'],
      ],
    );
    const logs = await stores.logs.read(handle.id);
    expect(logs.map((line) => [line.jobAttempt ?? 1, line.text])).toEqual([
      [1, 'first runner'],
      [2, 'second'],
    ]);
  });

  it('offers the next attempt no sooner than the delay after the failed one ended', async () => {
    const clock = new ManualClock();
    const { plane: p, events } = plane(clock);
    let offers = 0;
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') {
        offers++;
        send({ type: 'accept', jobId: m.jobId });
      }
      if (m.type === 'lease') {
        const outcome = { kind: 'failed', reason: 'exit 1', exitCode: 1 } as const;
        send({
          type: 'job.completed',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          outcome,
          outputs: {},
          at: 1,
        });
      }
    });
    const handle = await p.startRun(
      workflow(
        'jobs:\n  a: { runs-on: x, retry: {max-attempts: 2, delay: 10s}, steps: [{ run: "true" }] }\n',
      ),
      request,
    );
    await settle();
    expect(offers).toBe(1);
    expect(events.find((e) => e.type === 'job.retrying')).toMatchObject({ attempt: 2, delayMs: 10_000 });
    await clock.advance(9_999);
    expect(offers).toBe(1);
    await clock.advance(1);
    expect(offers).toBe(2);
    expect(await handle.done).toBe('failed');
  });

  it('ends a run at once when it is cancelled while a job waits out its retry delay', async () => {
    const { plane: p, events } = plane();
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        const outcome = { kind: 'failed', reason: 'exit 1', exitCode: 1 } as const;
        send({
          type: 'job.completed',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          outcome,
          outputs: {},
          at: 1,
        });
      }
    });
    // A one-hour delay: only the cancellation can end this run within the test's timeout.
    const handle = await p.startRun(
      workflow('jobs:\n  a: { runs-on: x, retry: {max-attempts: 2, delay: 1h}, steps: [{ run: "true" }] }\n'),
      request,
    );
    while (!events.some((e) => e.type === 'job.retrying')) await new Promise((r) => setTimeout(r, 5));
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');
    expect(events.filter((e) => e.type === 'job.completed')).toMatchObject([{ status: 'cancelled' }]);
  });
});
