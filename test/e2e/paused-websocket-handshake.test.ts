import { afterAll, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  killAll,
  type StartedProcess,
  startProcess,
  startServerForRunners,
  untilUnreadFromServer,
} from './fleet-processes.js';
import { processState, waitFor } from './process-state.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * A runner stopped (SIGSTOP, Ctrl-Z, a laptop asleep, a paused container) while its WebSocket handshake
 * was out, past the handshake's 10 s limit, while the server answered it: on waking, the overdue timer
 * fired before the runner read the answer waiting in its socket, so it gave the WebSocket up ("Opening
 * handshake has timed out") and, under `--protocol auto`, said it was connected over long-poll. Its
 * deadline now follows the late-timer rule (DeadlineTimer): it reads what waited first. The runner is a
 * real `valkyrie runner` process, as only a stopped process shows the order in which it then runs its
 * timers and reads its sockets. A proxy holds its upgrade request until the runner is stopped, so the
 * server's answer surely comes while it does not run.
 */
const admin = 'vkt-e2e-paused-handshake-admin-0123456789';
/** Past the handshake's 10 s limit (connector.ts) by less than 2 s: late enough to read first. */
const stoppedMs = 11_000;
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

it('connects over the WebSocket its server upgraded while it was stopped, not over long-poll', async () => {
  const { server, registration } = await startServerForRunners(ws, admin, processes);
  const via = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  try {
    await expectConnectedOverWebSocket(via, registration);
  } finally {
    await via.close();
  }
}, 60_000);

/** A runner given the URL of the proxy `via`, stopped while the server answers its first upgrade. */
async function expectConnectedOverWebSocket(via: TcpProxy, registration: string): Promise<void> {
  const viaUrl = `http://127.0.0.1:${via.port}`;
  const upgradeHeld = via.holdNextUpgrade();
  const runner = startProcess(ws, [
    ...['runner', '--server', viaUrl, '--token', registration],
    ...['--name', 'paused', '--work-dir', 'runner-paused'],
  ]);
  processes.push(runner);
  const { child } = runner;
  const pid = child.pid ?? -1;
  const letThrough = await upgradeHeld;
  child.kill('SIGSTOP');
  await waitFor(() => processState(pid) === 'T', 5_000, 'the runner to stop');
  const stoppedAt = Date.now();
  letThrough();
  // The server's 101 waits unread in the stopped runner's socket.
  await untilUnreadFromServer(viaUrl);
  await new Promise((resolve) => setTimeout(resolve, stoppedAt + stoppedMs - Date.now()));
  child.kill('SIGCONT');
  await waitFor(
    () => /connected to/.test(runner.stdout()) || child.exitCode !== null,
    20_000,
    () => `the runner to connect: ${runner.stdout()}${runner.stderr()}`,
  );
  const transport = / paused connected to \S+ over (\S+) as /.exec(runner.stdout())?.[1];
  expect(transport).toBe('websocket');
  expect(runner.stderr()).toBe('');
}
