import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startRestartableFleet, until } from './fleet-processes.js';

/**
 * What a connected runner prints while its server is away: a real server killed under a real runner,
 * then started again on its port.
 */
const admin = 'vkt-e2e-outage-lines-admin-0123456789';
const workspaces: Workspace[] = [];
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  for (const ws of workspaces) ws.dispose();
});

/** A server on a port of its own and a runner, once the runner says it connected. */
async function connectedFleet() {
  const ws = new Workspace();
  workspaces.push(ws);
  const fleet = await startRestartableFleet(ws, processes, admin, [], []);
  await until('the runner to connect', async () =>
    fleet.runner.stdout().includes(' connected to ') ? true : undefined,
  );
  return fleet;
}

describe('a runner whose server goes away', () => {
  // The WebSocket's reason said "connection lost (…)" inside the line's own "lost the … connection".
  it('says once that it lost the connection, why, and that it reconnects now', async () => {
    const { first, runner } = await connectedFleet();
    first.child.kill('SIGKILL');
    await first.done;
    const line = await until(
      'the runner to tell the loss',
      async () => runner.stdout().match(/^valkyrie runner: lost the .*$/m)?.[0],
    );
    expect(line).toBe(
      'valkyrie runner: lost the websocket connection (close code 1006: no reason given); reconnecting now',
    );
    expect(line.match(/lost/g)).toHaveLength(1);
  });
});
