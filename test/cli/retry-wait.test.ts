import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { defaultRetryWait, type RetryWaitPolicy } from '../../src/cli/retry-wait.js';
import { startSilentServer } from '../core/silent-server.js';

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

const shuttingDown: Answer = (_request, response) => {
  response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
  response.end(JSON.stringify({ code: 'VK_SHUTTING_DOWN', message: 'the server is shutting down' }));
};
const busy: Answer = (_request, response) => {
  response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
  response.end(JSON.stringify({ code: 'VK_SERVER_BUSY', message: '16 submitted workflows are queued' }));
};
const created: Answer = (request, response) => {
  request.resume();
  response.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
};

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A server that gives `answers` in turn (the last one from then on), recording each request's body. */
async function serve(answers: Answer[], port = 0): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      bodies.push(body);
      const answer = answers[Math.min(bodies.length, answers.length) - 1];
      answer?.(request, response);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

/** A policy on a clock that sleeping moves, recording the waits and the notices. */
function policy(onSleep: (ms: number) => Promise<void> | void = () => {}) {
  let now = 0;
  const sleeps: number[] = [];
  const notices: string[] = [];
  const wait: RetryWaitPolicy = {
    ...defaultRetryWait,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      await onSleep(ms);
    },
    notice: (line) => notices.push(line),
  };
  return { wait, sleeps, notices };
}

describe('ApiClient while the server is busy', () => {
  it('asks again after each 503 VK_SERVER_BUSY, its Retry-After spread, saying so once', async () => {
    const { url, bodies } = await serve([busy, busy, created]);
    const { wait, sleeps, notices } = policy();
    const spread: number[] = [];
    const client = new ApiClient(url, 'tok', {
      ...wait,
      spread: (ms) => {
        spread.push(ms);
        return ms + 700;
      },
    });
    const answer = await client.request('POST', '/api/v1/runs', { workflow: 'w' });
    expect(answer).toEqual({ ok: true });
    expect(bodies).toEqual(Array(3).fill('{"workflow":"w"}'));
    expect([spread, sleeps]).toEqual([
      [5000, 5000],
      [5700, 5700],
    ]);
    expect(notices).toEqual([
      `valkyrie: the server at ${url} is busy (503 VK_SERVER_BUSY); retrying in 5.7s, for up to 30s`,
    ]);
  });

  it('spreads the waits of a burst between Retry-After and half as much again', () => {
    const waits = Array.from({ length: 200 }, () => defaultRetryWait.spread(5000));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(5000);
    expect(Math.max(...waits)).toBeLessThan(7500);
    expect(new Set(waits).size).toBeGreaterThan(50);
  });

  it('gives up within 30 s and answers with the last 503, and a refused connection after it is not waited out', async () => {
    const { url, bodies } = await serve([busy]);
    const { wait, sleeps } = policy();
    const client = new ApiClient(url, 'tok', { ...wait, spread: (ms) => ms });
    await expect(client.request('POST', '/api/v1/runs', { workflow: 'w' })).rejects.toMatchObject({
      status: 503,
      serverCode: 'VK_SERVER_BUSY',
    });
    expect(sleeps).toEqual([5000, 5000, 5000, 5000, 5000, 5000]);
    expect(bodies).toHaveLength(7);

    const gone = await serve([busy]);
    const goneWait = policy(async () => {
      await new Promise((done) => servers.at(-1)?.close(done));
    });
    const second = new ApiClient(gone.url, 'tok', { ...goneWait.wait, spread: (ms) => ms });
    await expect(second.request('POST', '/api/v1/runs', { workflow: 'w' })).rejects.toMatchObject({
      code: 'VK_SERVER_UNREACHABLE',
    });
    expect(goneWait.sleeps).toEqual([5000]);
  });
});

describe('ApiClient while the server restarts', () => {
  it('asks again after each 503 VK_SHUTTING_DOWN, as Retry-After says, saying so once', async () => {
    const { url, bodies } = await serve([shuttingDown, shuttingDown, created]);
    const { wait, sleeps, notices } = policy();
    const client = new ApiClient(url, 'tok', wait);
    const answer = await client.request('POST', '/api/v1/runs', { workflow: 'w' });
    expect(answer).toEqual({ ok: true });
    expect(bodies).toEqual(Array(3).fill('{"workflow":"w"}'));
    expect(sleeps).toEqual([5000, 5000]);
    expect(notices).toEqual([
      `valkyrie: the server at ${url} is shutting down or restarting (503 VK_SHUTTING_DOWN); retrying in 5s, for up to 30s`,
    ]);
  });

  // `submit` checks for its bundle with HEAD first: that answer has no body, only the code's header.
  it('asks again after a bodiless 503 whose header says VK_SHUTTING_DOWN (a HEAD answer)', async () => {
    const bodiless: Answer = (_request, response) => {
      response.writeHead(503, { 'retry-after': '5', 'x-valkyrie-error': 'VK_SHUTTING_DOWN' }).end();
    };
    const found: Answer = (_request, response) => {
      response.writeHead(200).end();
    };
    const { url } = await serve([bodiless, found]);
    const { wait, sleeps } = policy();
    const response = await new ApiClient(url, 'tok', wait).fetch('HEAD', '/api/v1/bundles/x');
    expect(response.status).toBe(200);
    expect(sleeps).toEqual([5000]);
  });

  it('gives up after 30 s of waits and answers with the last 503', async () => {
    const { url, bodies } = await serve([shuttingDown]);
    const { wait, sleeps } = policy();
    const client = new ApiClient(url, 'tok', wait);
    await expect(client.request('GET', '/api/v1/runs/1')).rejects.toMatchObject({
      status: 503,
      serverCode: 'VK_SHUTTING_DOWN',
    });
    expect(sleeps).toEqual([5000, 5000, 5000, 5000, 5000, 5000]);
    expect(bodies).toHaveLength(7);
  });

  it('does not ask again after another 503 (VK_STORE), nor for a stream body', async () => {
    const { url, bodies } = await serve([
      (_request, response) =>
        response
          .writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' })
          .end(JSON.stringify({ code: 'VK_STORE', message: 'the store did not answer' })),
    ]);
    const { wait, sleeps } = policy();
    const client = new ApiClient(url, 'tok', wait);
    await expect(client.request('GET', '/api/v1/runs/1')).rejects.toMatchObject({ serverCode: 'VK_STORE' });
    const down = await serve([shuttingDown]);
    const stream = new Blob(['x']).stream();
    const response = await new ApiClient(down.url, 'tok', wait).fetch('PUT', '/api/v1/bundles/x', {
      body: stream,
      duplex: 'half',
    });
    expect(response.status).toBe(503);
    expect(sleeps).toEqual([]);
    expect([bodies.length, down.bodies.length]).toEqual([1, 1]);
  });

  it('waits out refused connections once the server said it is shutting down, until the new process answers', async () => {
    const old = await serve([shuttingDown]);
    const port = Number(new URL(old.url).port);
    let fresh: { bodies: string[] } | undefined;
    const { wait, sleeps } = policy(async () => {
      const server = servers[0];
      if (sleeps.length === 1 && server !== undefined) await new Promise((done) => server.close(done));
      if (sleeps.length === 3) fresh = await serve([created], port);
    });
    const client = new ApiClient(old.url, 'tok', wait);
    expect(await client.request('POST', '/api/v1/runs', { workflow: 'w' })).toEqual({ ok: true });
    expect(sleeps).toEqual([5000, 1000, 1000]);
    expect(fresh?.bodies).toEqual(['{"workflow":"w"}']);
  });

  it('says, when the server it waited for does not come back, that it waited and for how long', async () => {
    const old = await serve([shuttingDown]);
    const { wait, sleeps, notices } = policy(async () => {
      const server = servers[0];
      if (sleeps.length === 1 && server !== undefined) await new Promise((done) => server.close(done));
    });
    const client = new ApiClient(old.url, 'tok', wait);
    // The notice said "for up to 30s"; the ten tries ran out after 13 s: the error says so.
    await expect(client.request('GET', '/api/v1/runs/1')).rejects.toThrow(
      `cannot reach the Valkyrie server at ${old.url}: connection refused (ECONNREFUSED); ` +
        'it said it was shutting down or restarting, and did not come back within 13s (10 tries)',
    );
    expect(sleeps).toEqual([5000, ...Array(8).fill(1000)]);
    expect(notices).toEqual([expect.stringMatching(/retrying in 5s, for up to 30s$/)]);
  });

  it('waits out refused connections after the server answered this client before, as a restart between two requests', async () => {
    const old = await serve([created]);
    const port = Number(new URL(old.url).port);
    let fresh: { bodies: string[] } | undefined;
    const { wait, sleeps, notices } = policy(async () => {
      if (sleeps.length === 2) fresh = await serve([created], port);
    });
    const client = new ApiClient(old.url, 'tok', wait);
    expect(await client.request('GET', '/api/v1/runs/1')).toEqual({ ok: true });
    // The drain answered the upload, then the process ended: the run request finds no listener.
    await new Promise((done) => servers.pop()?.close(done));
    expect(await client.request('POST', '/api/v1/runs', { workflow: 'w' })).toEqual({ ok: true });
    expect(sleeps).toEqual([1000, 1000]);
    expect(fresh?.bodies).toEqual(['{"workflow":"w"}']);
    expect(notices).toEqual([
      `valkyrie: the server at ${old.url} refused the connection after it had answered this command (restarting?); retrying every 1s, for up to 30s`,
    ]);
  });

  it('says, when a server that answered before does not come back, that it waited and for how long', async () => {
    const old = await serve([created]);
    const { wait, sleeps } = policy();
    const client = new ApiClient(old.url, 'tok', wait);
    await client.request('GET', '/api/v1/runs/1');
    await new Promise((done) => servers.pop()?.close(done));
    await expect(client.request('GET', '/api/v1/runs/1')).rejects.toThrow(
      `cannot reach the Valkyrie server at ${old.url}: connection refused (ECONNREFUSED); ` +
        'it had answered this command before, and did not come back within 9s (10 tries)',
    );
    expect(sleeps).toEqual(Array(9).fill(1000));
  });

  it('does not wait out a refused connection the server never said it would give', async () => {
    const { wait, sleeps } = policy();
    const closed = await serve([created]);
    await new Promise((done) => servers.pop()?.close(done));
    const client = new ApiClient(closed.url, 'tok', wait);
    await expect(client.request('GET', '/api/v1/runs/1')).rejects.toMatchObject({
      code: 'VK_SERVER_UNREACHABLE',
    });
    expect(sleeps).toEqual([]);
  });
});

describe('ApiClient and a server that does not answer', () => {
  it('says once that it is still waiting, however many requests wait', async () => {
    const silent = await startSilentServer();
    const { url } = silent;
    const { wait, notices } = policy();
    const client = new ApiClient(url, 'tok', { ...wait, unansweredNoticeMs: 100 });
    try {
      const signal = AbortSignal.timeout(800);
      const requests = ['/api/v1/runs', '/api/v1/runners'].map((path) =>
        client.fetch('GET', path, { signal }).catch((error: unknown) => error),
      );
      for (const outcome of await Promise.all(requests))
        expect(outcome).toMatchObject({ name: 'TimeoutError' });
      expect(notices).toEqual([
        `valkyrie: the server at ${url} has not answered for 100ms; still waiting for it`,
      ]);
    } finally {
      silent.close();
    }
  });

  it('says nothing while a streamed body may still be uploading', async () => {
    const silent = await startSilentServer();
    const { url } = silent;
    const { wait, notices } = policy();
    const client = new ApiClient(url, 'tok', { ...wait, unansweredNoticeMs: 100 });
    try {
      // One chunk, then open: an upload the server has not had whole.
      const body = new ReadableStream<Uint8Array>({ start: (stream) => stream.enqueue(new Uint8Array(16)) });
      const signal = AbortSignal.timeout(500);
      const outcome = await client
        .fetch('PUT', '/api/v1/bundles/x', { body, duplex: 'half', signal })
        .catch((error: unknown) => error);
      expect(outcome).toMatchObject({ name: 'TimeoutError' });
      expect(notices).toEqual([]);
    } finally {
      silent.close();
    }
  });

  it('says nothing of a server that answers in time', async () => {
    const { url } = await serve([created]);
    const { wait, notices } = policy();
    const client = new ApiClient(url, 'tok', { ...wait, unansweredNoticeMs: 500 });
    expect(await client.request('POST', '/api/v1/runs', { workflow: 'w' })).toEqual({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(notices).toEqual([]);
  });
});
