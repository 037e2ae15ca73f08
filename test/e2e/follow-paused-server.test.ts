import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  adminApi,
  createToken,
  killAll,
  type StartedProcess,
  startProcess,
  startServer,
  until,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * A server frozen (SIGSTOP, a paused VM) while `submit --follow` and `logs -f --server` follow a
 * run: its socket stays open and silent, so the followers waited on it until undici's body timeout
 * (5 minutes) and then failed with "Body Timeout Error". A stream that brings nothing, not even the
 * keep-alive comment the server sends every 15 s, for VALKYRIE_EVENT_STREAM_SILENCE (default 45 s;
 * here 1.5 s) is now taken for lost and reconnected as a dropped one is.
 */
const admin = 'vkt-e2e-paused-follow-admin-0123456789';
const silence = '1.5s';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedProcess | undefined;

afterAll(async () => {
  // A stopped process takes SIGKILL too, but one resumed ends as it would after any test.
  server?.child.kill('SIGCONT');
  await killAll(processes);
  ws.dispose();
});

// No runner has the label: the run stays queued, and its event streams open and quiet.
const workflow = `name: paused
jobs:
  wait:
    runs-on: [self-hosted, nowhere]
    steps: [{ run: "true" }]
`;

describe('following a run on a server that freezes', () => {
  it('takes the silent stream for lost after the silence limit, says so, and follows on once it resumes', async () => {
    const started = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
    server = started;
    processes.push(started);
    const api = adminApi(started.url, admin);
    const env = {
      VALKYRIE_SERVER: started.url,
      VALKYRIE_TOKEN: await createToken(started.url, admin, 'submit'),
      VALKYRIE_EVENT_STREAM_SILENCE: silence,
    };
    ws.write('paused.yml', workflow);
    const submit = startProcess(ws, ['submit', 'paused.yml', '--no-bundle', '--follow', '--json'], env);
    processes.push(submit);
    const runId = await until('the run id', async () => /"runId":"([^"]+)"/.exec(submit.stdout())?.[1]);
    const logs = startProcess(ws, ['logs', runId, '--follow'], env);
    processes.push(logs);
    await until('both event streams to open', async () => {
      const metrics = await api<string>('GET', '/metrics');
      return /^valkyrie_event_streams_open 2$/m.test(metrics) ? true : undefined;
    });

    started.child.kill('SIGSTOP');
    const lost = new RegExp(
      `valkyrie: lost the event stream of run ${runId} \\(the server sent nothing for 1\\.5s, not even its keep-alive\\); reconnecting\\n`,
    );
    await waitFor(
      () => lost.test(submit.stderr()) && lost.test(logs.stderr()),
      20_000,
      'both followers to say the stream was lost',
    );
    started.child.kill('SIGCONT');

    await api('POST', `/api/v1/runs/${runId}/cancel`);
    const [submitted, followed] = await Promise.all([submit.done, logs.done]);
    expect(submitted.stderr).not.toMatch(/Body Timeout|could not get it back/);
    expect(submitted.stdout).toMatch(/"type":"run\.completed"/);
    expect(submitted.code).toBe(130);
    expect(followed.code).toBe(130);
  });
});
