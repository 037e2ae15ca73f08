import { describe, expect, it } from 'vitest';
import { fleetsInOwnWorkspaces, until } from './fleet-processes.js';

/**
 * What a connected runner prints while its server is away: a real server killed under a real runner,
 * then started again on its port.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-outage-lines-admin-0123456789');

/** A server on a port of its own and a runner, once the runner says it connected. */
async function connectedFleet() {
  const fleet = await fleets.startRestartable([], []);
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

  // It used to print the loss and then nothing while it kept trying, so its log looked hung.
  it('says now and then that the server is still unreachable, with the last error, and when it is back', async () => {
    const { first, runner, restart } = await connectedFleet();
    first.child.kill('SIGKILL');
    await first.done;
    const unreachable = new RegExp(
      `^valkyrie runner: ${first.url} unreachable for [\\d.]+m?s \\(last error: .*ECONNREFUSED.*\\); retrying in [\\d.]+m?s$`,
      'gm',
    );
    await until('two lines about the outage', async () =>
      (runner.stdout().match(unreachable)?.length ?? 0) >= 2 ? true : undefined,
    );
    await restart();
    const back = await until(
      'the runner to be back',
      async () => runner.stdout().match(/^valkyrie runner: .* reachable again after .*$/m)?.[0],
    );
    expect(back).toMatch(
      new RegExp(
        `^valkyrie runner: ${first.url} reachable again after [\\d.]+m?s: connected over (websocket|long-poll) \\(the websocket connection had been lost: close code 1006: no reason given\\)$`,
      ),
    );
  });
});
