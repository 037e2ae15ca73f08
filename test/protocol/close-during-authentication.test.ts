import { afterEach, expect, it } from 'vitest';
import { goodToken, type ProtocolServer, startProtocolServer } from './harness.js';
import { upgradeRefusal } from './upgrade-refusal.js';

// A connection whose authentication (a store read) ends after the acceptors began to close is refused
// as one that came after: 503 VK_SHUTTING_DOWN, with Retry-After, over both transports. Admitted, a
// long-poll session would be opened on a closed acceptor and handed to a control plane shutting down;
// a WebSocket's socket was dropped without an answer.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('refuses a connection whose authentication ends after the acceptors began to close', async () => {
  const held: (() => void)[] = [];
  server = await startProtocolServer({
    authenticate: async () => {
      await new Promise<void>((resolve) => held.push(resolve));
      return { kind: 'accepted', principal: 'runner-1' };
    },
  });
  const live = server;
  const longPoll = fetch(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken });
  const webSocket = upgradeRefusal(live.wsUrl, goodToken);
  while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  live.longPoll.close();
  const closed = live.webSocket.close();
  for (const release of held) release();

  const polled = await longPoll;
  expect({
    status: polled.status,
    retryAfter: polled.headers.get('retry-after'),
    body: await polled.json(),
  }).toEqual({
    status: 503,
    retryAfter: '5',
    body: { code: 'VK_SHUTTING_DOWN', message: 'the control plane is shutting down' },
  });
  expect(await webSocket).toMatchObject({
    status: 503,
    retryAfter: '5',
    header: 'VK_SHUTTING_DOWN',
    body: { code: 'VK_SHUTTING_DOWN' },
  });
  await closed;
  expect(live.principals).toEqual([]);
});
