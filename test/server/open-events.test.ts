import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it } from 'vitest';
import { openEvents } from './helpers.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const turn = () => new Promise((resolve) => setTimeout(resolve, 10));

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/**
 * Node's fetch (undici) cancels the body of a Response that is garbage-collected while the body is
 * neither locked nor read. A stream a test opens early and reads later (a job's log, read once the
 * run has ended) must still hold every event: under load a collection in between emptied it (the
 * replica-streams flake: the log stream read as ended, with no lines and no `end`).
 */
it('openEvents keeps a stream read later whole through a garbage collection', async () => {
  let response: ServerResponse | undefined;
  const server = createServer((_request, reply) => {
    reply.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.write(': open\n\n');
    response = reply;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const events = await openEvents(`http://127.0.0.1:${port}/`, 'token');
  // A collection, then the turns its finalizers run in.
  for (let i = 0; i < 5; i++) {
    collectGarbage();
    await turn();
  }
  response?.end('event: log\ndata: {"text":"one"}\n\n');

  expect(await events.next()).toEqual(['log', { text: 'one' }, undefined]);
  expect(await events.next()).toBeUndefined();
});
