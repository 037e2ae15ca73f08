import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer } from './fleet-processes.js';

/**
 * `valkyrie server` started in a terminal that closes gets SIGHUP. It used to die of it at once, mid-write,
 * its runs left for the next start to take over; it now shuts down as on SIGTERM: drained, exit 0.
 */
describe('valkyrie server on SIGHUP', () => {
  const ws = new Workspace();
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
  });

  it('drains and exits 0, as on SIGTERM', async () => {
    const server = await startServer(ws, ['--drain-timeout', '5s'], {
      VALKYRIE_ADMIN_TOKEN: 'vkt-e2e-server-hangup-admin-0123456',
    });
    processes.push(server);
    server.child.kill('SIGHUP');
    const exit = await server.done;
    expect(exit, exit.stderr).toMatchObject({ signal: null, code: 0 });
    expect(exit.stderr).toContain(
      'SIGHUP: shutting down; draining for up to 5s (signal again to stop at once)',
    );
  });
});
