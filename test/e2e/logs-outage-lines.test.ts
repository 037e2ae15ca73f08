import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow, runRequest } from '../engine/plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from '../engine/scripted-runner.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  oneJobWorkflow as serverWorkflow,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from '../server/helpers.js';
import { collect, Workspace } from './cli.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

/**
 * A run whose runner lost its connection mid-step and came back, stored by the control plane in a
 * SQLite file: `line 2` was printed before the connection dropped but never acknowledged, so the
 * runner sends it again after it resumed, with `line 3` printed while it was away; the control plane
 * stored its `disconnected` and `reconnected` lines before both.
 */
async function runWithAnOutage(db: string): Promise<void> {
  const stores = openSqliteStores(db);
  const clock = new ManualClock();
  const plane = new ControlPlane(stores, { leaseTtlMs: 10_000, clock });
  try {
    const first = new ScriptedRunner(plane, accepting, { identity });
    const handle = await plane.startRun(oneJobWorkflow(), runRequest);
    await settle();
    const lease = first.lease();
    const start = clock.now();
    const line = (runner: ScriptedRunner, { jobId, fencingToken }: Lease, first: number, at: number) =>
      runner.send({
        type: 'log',
        jobId,
        fencingToken,
        first,
        entries: [{ stepIndex: 0, stream: 'stdout', at, text: `line ${first + 1}` }],
      });
    first.send({ ...lease, type: 'step.started', index: 0, name: 's', at: start });
    line(first, lease, 0, start + 100);
    await settle();
    await clock.advance(1_000);
    first.end.close('network dropped');
    await clock.advance(2_000);
    const back = new ScriptedRunner(plane, accepting, {
      identity,
      resume: [{ jobId: lease.jobId, fencingToken: lease.fencingToken }],
    });
    await settle();
    line(back, lease, 1, start + 500);
    line(back, lease, 2, start + 2_000);
    line(back, lease, 3, start + 3_500);
    const step = { index: 0, name: 's', outcome: 'success', conclusion: 'success' } as const;
    back.send({
      ...lease,
      type: 'step.completed',
      step: { ...step, startedAt: start, finishedAt: start + 3_600 },
    });
    back.complete(lease);
    await handle.done;
  } finally {
    await plane.close();
    stores.close();
  }
}

/** The lines of the log as printed, without the headings and outcomes only `logs` adds. */
function logLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((printed) => printed.replace(/^\[\w+\] /, ''))
    .filter((printed) => /^(line \d|runner |running on)/.test(printed));
}

/** Waits until the job's text log (`GET /logs`), read every 20 ms for up to 5 s, says `text`. */
async function logSays(live: TestServer, runId: string, jobId: string, text: string): Promise<void> {
  const url = `/api/v1/runs/${runId}/logs?job=${jobId}`;
  for (let tries = 0; tries < 250; tries++) {
    if ((await live.request('GET', url)).text.includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`job ${jobId}'s log never said ${JSON.stringify(text)}`);
}

describe('valkyrie logs and logs --follow of a run whose runner was away', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('print the same lines in the same order: the outage lines where the control plane stored them', async () => {
    const db = join(ws.dir, 'state.db');
    await runWithAnOutage(db);
    const plain = await ws.run(['logs', '1', '--db', db]);
    const followed = await collect(ws.start(['logs', '1', '--follow', '--db', db]));
    expect(plain.code, plain.stderr).toBe(0);
    expect(followed.code, followed.stderr).toBe(0);
    expect(logLines(followed.stdout)).toEqual([
      'running on runner r (rnr_1)',
      'line 1',
      'runner r (rnr_1) disconnected; waiting up to 9s for it to come back',
      'runner r (rnr_1) reconnected and resumed the job',
      'line 2',
      'line 3',
      'line 4',
    ]);
    expect(logLines(plain.stdout)).toEqual(logLines(followed.stdout));
  });

  it('print the same lines in the same order on a server: --follow watching as they came, logs after', async () => {
    const live = await startTestServer();
    const created = await live.request('POST', '/api/v1/runs', { body: { workflow: serverWorkflow } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const asAdmin = { VALKYRIE_SERVER: live.server.url, VALKYRIE_TOKEN: adminToken };
    const watching = collect(ws.start(['logs', runId, '--follow'], asAdmin));
    const runnerCredential = await credential(live.request, live.token);
    const first = await connectScriptedRunner(live.server.url, runnerCredential, 1);
    const [lease] = await first.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const { jobId, fencingToken } = lease;
    const start = Date.now();
    const line = (first: number, at: number): RunnerMessage => ({
      type: 'log',
      jobId,
      fencingToken,
      first,
      entries: [{ stepIndex: 0, stream: 'stdout', at, text: `line ${first + 1}` }],
    });
    first.transport.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: start });
    first.transport.send(line(0, start));
    await logSays(live, runId, jobId, 'line 1');
    // `line 2` is printed just before the connection drops, and never reaches the server on it.
    const printedBeforeTheDrop = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    first.transport.close();
    await logSays(live, runId, jobId, 'disconnected; waiting');
    const back = await connectScriptedRunner(
      live.server.url,
      runnerCredential,
      1,
      ['linux'],
      [{ jobId, fencingToken }],
    );
    await logSays(live, runId, jobId, 'reconnected and resumed');
    back.transport.send(line(1, printedBeforeTheDrop));
    back.transport.send(line(2, Date.now()));
    const step = { index: 0, name: 's', outcome: 'success', conclusion: 'success' } as const;
    back.transport.send({
      type: 'step.completed',
      jobId,
      fencingToken,
      step: { ...step, finishedAt: Date.now() },
    });
    back.transport.send(jobCompleted(lease));
    await waitForRunStatus(live.request, runId, 'succeeded');
    const followed = await watching;
    const plain = await ws.run(['logs', runId], asAdmin);
    expect(followed.code, followed.stderr).toBe(0);
    expect(plain.code, plain.stderr).toBe(0);
    expect(logLines(followed.stdout)).toEqual([
      expect.stringMatching(/^running on runner scripted /),
      'line 1',
      expect.stringMatching(/^runner scripted \(\w+\) disconnected; waiting up to /),
      expect.stringMatching(/^runner scripted \(\w+\) reconnected and resumed the job$/),
      'line 2',
      'line 3',
    ]);
    expect(logLines(plain.stdout)).toEqual(logLines(followed.stdout));
  });
});
