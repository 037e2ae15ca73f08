import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';

// A runner stopped (SIGSTOP, a paused VM or container) right after it sent its long-poll session open,
// past the open's 10 s limit, while the server answered it: on waking, its overdue timer fires before
// it reads the answer waiting in its socket, and gave the open up ('no answer within 10s'), though the
// server had answered at once. The client is a real process (from dist/: `npm run build` first), as
// only a stopped process shows the order in which it then runs its timers and reads its sockets.

const fixture = resolve(import.meta.dirname, 'fixtures/long-poll-open-process.mjs');
/** Past the open's 10 s limit (client.ts) by less than 2 s: late enough to read first, not to re-arm. */
const stoppedMs = 11_000;

let server: Server | undefined;
let client: ChildProcess | undefined;
afterEach(() => {
  client?.kill('SIGKILL');
  client = undefined;
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

it('takes the session its server opened while it was stopped, rather than giving the open up', async () => {
  let stopped: ChildProcess | undefined;
  const live = createServer((request, response) => {
    request.resume();
    if (request.method !== 'POST') return; // polls are held
    // Stopped before the answer is written: the answer then waits in its socket while it does not run.
    stopped = client;
    stopped?.kill('SIGSTOP');
    response.writeHead(201, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ sessionId: 's1', holdMs: 25_000 }));
    setTimeout(() => stopped?.kill('SIGCONT'), stoppedMs);
  });
  server = live;
  await new Promise<void>((listening) => live.listen(0, '127.0.0.1', listening));
  const { port } = live.address() as AddressInfo;
  const child = spawn(process.execPath, [fixture, `http://127.0.0.1:${port}/poll`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  client = child;
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  await once(child, 'exit');
  expect(stopped).toBe(child);
  expect(JSON.parse(out)).toEqual({ kind: 'connected' });
}, 30_000);
