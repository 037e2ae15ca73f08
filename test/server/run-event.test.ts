import { describe, expect, it } from 'vitest';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

const workflow = `name: deploy
on:
  push:
  workflow_dispatch:
    inputs:
      target: { default: staging }
jobs:
  ship:
    runs-on: linux
    steps:
      - run: ./ship
`;

describe('POST /api/v1/runs: the event a run starts as', () => {
  it('is the body.event, else chosen from on: as valkyrie run chooses it', async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 3);
    const bodies = [
      [{ workflow }, 'push'],
      [{ workflow, inputs: { target: 'prod' } }, 'workflow_dispatch'],
      [{ workflow, event: 'workflow_dispatch' }, 'workflow_dispatch'],
    ] as const;
    for (const [body] of bodies) expect((await request('POST', '/api/v1/runs', { body })).status).toBe(201);
    const leases = await runner.leases(3);
    const events = leases.map((lease) => (lease.job.contexts.github as Record<string, unknown>).event_name);
    expect(events.sort()).toEqual(bodies.map(([, event]) => event).sort());
    runner.transport.close();
  });

  it('gives a push run no inputs, as GitHub does, and a workflow_dispatch run the defaults', async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    for (const event of ['push', 'workflow_dispatch'])
      expect((await request('POST', '/api/v1/runs', { body: { workflow, event } })).status).toBe(201);
    const leases = await runner.leases(2);
    const seen = leases.map(({ job: { contexts } }) => [
      (contexts.github as Record<string, unknown>).event_name,
      contexts.inputs,
    ]);
    expect(seen.sort()).toEqual([
      ['push', {}],
      ['workflow_dispatch', { target: 'staging' }],
    ]);
    runner.transport.close();
  });

  it('is kept with the run: a re-run of its failed job starts as the same event', async () => {
    const { server, request, token } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow, event: 'workflow_dispatch' } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const [first] = await runner.leases(1);
    if (first === undefined) throw new Error('no lease');
    runner.transport.send(jobCompleted(first, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }));
    await waitForRunStatus(request, runId, 'failed');
    expect((await request('POST', `/api/v1/runs/${runId}/rerun`)).status).toBe(202);
    const [, second] = await runner.leases(2);
    expect(second?.job.contexts.github).toMatchObject({ event_name: 'workflow_dispatch', run_attempt: '2' });
    runner.transport.close();
  });

  it('refuses an event on: does not list, or inputs with another event, with 400 and creating nothing', async () => {
    const { request } = await startTestServer();
    const refusals = [
      [
        { workflow, event: 'schedule' },
        `event "schedule" is not one of the workflow's on: triggers (push, workflow_dispatch)`,
      ],
      [
        { workflow, event: 'push', inputs: { target: 'prod' } },
        'inputs go only with the workflow_dispatch or workflow_call event, not with "push"',
      ],
    ] as const;
    for (const [body, message] of refusals) {
      const refused = await request('POST', '/api/v1/runs', { body });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ code: 'VK_INVALID_REQUEST', message, path: 'body.event' });
    }
    const listed = await request('GET', '/api/v1/runs');
    expect((listed.body as { runs: unknown[] }).runs).toEqual([]);
  });
});
