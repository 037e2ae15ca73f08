import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startProcess, until } from './fleet-processes.js';

/**
 * A server that takes the connection and never answers: a hung process (stopped, a deadlock, a VM
 * paused), whose kernel still accepts connections, or a proxy holding requests for it. Opening a
 * long-poll session had no time limit, so a runner reconnecting to one waited on it for good and
 * printed nothing (its last line "reconnecting now" for ten minutes and more), while the WebSocket
 * handshake gives up after 10 s. Opening a session now gives up after 10 s too, and the runner tells
 * it as every outage: "unreachable for …", then it tries again.
 */
const workspaces: Workspace[] = [];
const processes: StartedProcess[] = [];
const sockets: Socket[] = [];
const silent = createServer((socket) => void sockets.push(socket));

afterAll(async () => {
  await killAll(processes);
  for (const socket of sockets) socket.destroy();
  silent.close();
  for (const ws of workspaces) ws.dispose();
});

describe('a runner whose server takes connections and never answers', () => {
  it('says the server is unreachable after the session request timed out, and tries again', async () => {
    await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
    const address = silent.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const ws = new Workspace();
    workspaces.push(ws);
    const workDir = join(ws.dir, 'runner');
    mkdirSync(workDir);
    // A stored credential: the runner connects at once, as after an outage, without registering.
    writeFileSync(
      join(workDir, 'runner.json'),
      JSON.stringify({ server: url, runnerId: '0123456789ab', credential: 'vkt.0123456789ab.x', name: 'r' }),
    );
    const runner = startProcess(ws, ['runner', '--server', url, '--work-dir', workDir, '--protocol', 'http']);
    processes.push(runner);
    const line = await until(
      'a line that the server is unreachable',
      async () => runner.stdout().match(/^valkyrie runner: .* unreachable for .*$/m)?.[0],
    );
    expect(line).toMatch(
      new RegExp(
        `^valkyrie runner: ${url} unreachable for [\\d.]+s \\(last error: long-poll: no answer within 10s\\); retrying in [\\d.]+(?:ms|s)$`,
      ),
    );
    // It tried again: a second session request, on a connection of its own.
    await until('a second connection', async () => (sockets.length >= 2 ? true : undefined));
    expect(runner.stderr()).toBe('');
    runner.child.kill('SIGTERM');
    expect((await runner.done).code).toBe(0);
  });
});
