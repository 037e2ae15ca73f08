import { afterEach, expect, it } from 'vitest';
import type { Authentication } from '../../src/protocol/handshake.js';
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

// Whatever the hook came to: a store the shutdown closed under it fails it, 503 VK_STORE, as the
// server's hook answers a store that failed the check; the runner is to take the shutdown's word.
const answers: [string, Authentication<string>][] = [
  ['accepted', { kind: 'accepted', principal: 'runner-1' }],
  [
    'refused for the store',
    {
      kind: 'rejected',
      status: 503,
      code: 'VK_STORE',
      message: 'could not find token 1234: The database connection is not open',
    },
  ],
];

it.each(answers)(
  'refuses a connection whose authentication ends (%s) after the acceptors began to close',
  async (_, answer) => {
    const held: (() => void)[] = [];
    server = await startProtocolServer({
      authenticate: async () => {
        await new Promise<void>((resolve) => held.push(resolve));
        return answer;
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
  },
);
