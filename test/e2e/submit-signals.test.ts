import { describe, expect, it } from 'vitest';
import { collect, type Workspace } from './cli.js';
import type { FakeApiServer } from './fake-api-server.js';
import { startProcess } from './fleet-processes.js';
import { waitFor } from './process-state.js';
import { cancelBody, failedRun, inSubmitWorkspaceEachTest } from './submit-workspace.js';

// `valkyrie submit --follow` stopped by a signal asks the server to cancel its run, at whatever point
// the run's creation is.

let ws: Workspace;
let server: FakeApiServer;
inSubmitWorkspaceEachTest((opened) => {
  ({ ws, server } = opened);
});

/** The submit every case stops: it follows the run it creates, with no workspace bundle. */
const following = ['submit', 'ci.yml', '--follow', '--no-bundle'];
const serverEnv = () => ({ VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: 'tok' });

describe('valkyrie submit --follow, on a signal', () => {
  it('asks the server to cancel the run on Ctrl-C, then exits 130', async () => {
    server.script = { events: failedRun.slice(0, 5), hold: true };
    const child = ws.start(following, serverEnv());
    child.stdout?.once('data', () => child.kill('SIGINT'));
    const result = await collect(child);
    expect(server.calls()).toContain('POST /api/v1/runs/run-1/cancel');
    expect(cancelBody(server)).toEqual({ reason: 'valkyrie submit --follow received SIGINT (Ctrl-C)' });
    expect(result.stderr).toContain('Asking the server to cancel run run-1 (Ctrl-C again to stop following)');
    expect(result.stdout).toContain('Run cancelled');
    expect(result.code).toBe(130);
  });

  it('cancels the run of a Ctrl-C that came while the request creating it was out, once the server answers', async () => {
    server.script = { events: failedRun.slice(0, 5), hold: true };
    const child = ws.start(following, serverEnv());
    server.beforeRunAnswer = async () => {
      child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    const result = await collect(child);
    expect(result).toMatchObject({ code: 130, signal: null });
    expect(server.calls()).toContain('POST /api/v1/runs/run-1/cancel');
    expect(cancelBody(server)).toEqual({ reason: 'valkyrie submit --follow received SIGINT (Ctrl-C)' });
    expect(result.stderr).toContain(
      'SIGINT: the run is cancelled as soon as the server has started it (Ctrl-C again to stop at once)',
    );
    expect(result.stderr).toContain('Asking the server to cancel run run-1');
    expect(result.stdout).toContain('Run cancelled');
  });

  it('stops at once at a second Ctrl-C while the server has not answered the request creating the run', async () => {
    const submitting = startProcess(ws, following, serverEnv());
    let answer: () => void = () => undefined;
    server.beforeRunAnswer = async () => {
      submitting.child.kill('SIGINT');
      await waitFor(() => submitting.stderr().includes('again to stop at once'), 10_000, 'the first line');
      submitting.child.kill('SIGINT');
      // The server never answers while it runs: it stops without waiting for it.
      await new Promise<void>((resolve) => {
        answer = resolve;
      });
    };
    const result = await submitting.done;
    answer();
    expect(result).toMatchObject({ code: null, signal: 'SIGINT' });
    expect(server.calls()).not.toContain('POST /api/v1/runs/run-1/cancel');
  });

  it('asks the server to cancel the run on SIGTERM too, saying so in the reason it records, then exits 143', async () => {
    server.script = { events: failedRun.slice(0, 5), hold: true };
    const child = ws.start(following, serverEnv());
    child.stdout?.once('data', () => child.kill('SIGTERM'));
    const result = await collect(child);
    expect(cancelBody(server)).toEqual({ reason: 'valkyrie submit --follow received SIGTERM' });
    expect(result.stderr).toContain(
      'Asking the server to cancel run run-1 (SIGTERM again to stop following)',
    );
    expect(result.code).toBe(143);
  });
});
