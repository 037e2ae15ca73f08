import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane, type RunRequest } from '../../src/engine/control-plane.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import type { Workflow } from '../../src/workflow/model.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { FakeClock } from './fake-clock.js';

const request: RunRequest = {
  workflowName: 'w',
  workspace: '/tmp',
  actor: 't',
  vars: {},
  secrets: {},
  envOverrides: {},
};

function workflow(yaml: string): Workflow {
  const parsed = parseWorkflow(yaml, 'w.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A runner with one slot that takes every offer and finishes the job at once; it records the order. */
function connectRunner(plane: ControlPlane): { offered: string[] } {
  const offered: string[] = [];
  const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
  plane.connect(control);
  runner.onMessage((message) => {
    if (message.type === 'offer') {
      offered.push(message.name);
      runner.send({ type: 'accept', jobId: message.jobId });
    }
    if (message.type === 'lease') {
      runner.send({
        type: 'job.completed',
        jobId: message.jobId,
        fencingToken: message.fencingToken,
        outcome: { kind: 'succeeded' },
        outputs: {},
        at: 1,
      });
    }
  });
  runner.send({ type: 'register', version: 1, runner: { name: 'r', labels: ['x'], capacity: 1 } });
  return { offered };
}

describe('ControlPlane queue order', () => {
  const dirs: string[] = [];
  const open: Stores[] = [];
  afterEach(async () => {
    for (const stores of open.splice(0)) await stores.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function plane(clock: FakeClock): ControlPlane {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-queue-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    open.push(stores);
    return new ControlPlane(stores, { clock, agingIntervalMs: 60_000 });
  }

  it('offers ready jobs by priority: the job key, then --priority, then the workflow default', async () => {
    const p = plane(new FakeClock());
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(
      workflow(`priority: background
jobs:
  plain:
    runs-on: x
    steps: [{ run: "true" }]
  urgent:
    runs-on: x
    priority: critical
    steps: [{ run: "true" }]
  later:
    runs-on: x
    priority: low
    steps: [{ run: "true" }]
  soon:
    runs-on: x
    priority: high
    steps: [{ run: "true" }]
`),
      { ...request, priority: 'normal' },
    );
    expect(await handle.done).toBe('succeeded');
    expect(runner.offered).toEqual(['urgent', 'soon', 'plain', 'later']);
  });

  it('holds a not-before job back until its time and wakes dispatch with one timer, no polling', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const p = plane(clock);
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(
      workflow(`jobs:
  late:
    runs-on: x
    priority: critical
    not-before: 30s
    steps: [{ run: "true" }]
  now:
    runs-on: x
    steps: [{ run: "true" }]
`),
      request,
    );
    await settle();
    expect(runner.offered).toEqual(['now']);
    // The one wake-up; any later timer is the lease of the job that runs meanwhile.
    expect(clock.pending().filter((at) => at <= t0 + 30_000)).toEqual([t0 + 30_000]);
    clock.advance(29_999);
    await settle();
    expect(runner.offered).toEqual(['now']);
    clock.advance(1);
    await settle();
    expect(runner.offered).toEqual(['now', 'late']);
    expect(await handle.done).toBe('succeeded');
    // No wake-up left behind (the lease sweeper's unref'd timer may still be armed for `now`'s lease).
    expect(clock.pending().filter((at) => at !== t0 + 60_000)).toEqual([]);
  });

  it('holds the whole run back with the run-level not-before', async () => {
    const clock = new FakeClock();
    const p = plane(clock);
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(workflow('jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n'), {
      ...request,
      notBefore: clock.now() + 5000,
    });
    await settle();
    expect(runner.offered).toEqual([]);
    clock.advance(5000);
    expect(await handle.done).toBe('succeeded');
    expect(runner.offered).toEqual(['a']);
  });
});
