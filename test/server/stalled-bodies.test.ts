import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withRawClient } from '../store/postgres-server.js';
import { adminToken, credential, startTestServer } from './helpers.js';
import { onBothStores } from './replica-stores.js';
import { startUpload } from './streamed-upload.js';

/** Short, so that a stalled body is given up in the test's time; the default is 60 s. */
const bodyIdleTimeoutMs = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(10);
}

function bundleOf(bytes: number): { body: Buffer; sha256: string } {
  const body = Buffer.alloc(bytes, 'b');
  return { body, sha256: createHash('sha256').update(body).digest('hex') };
}

/** A request that declares `length` bytes of body: the answer's status and body, or the error's message. */
function startRequest(
  url: string,
  method: string,
  contentType: string,
  length: number,
  bearer = adminToken,
): { write(chunk: Buffer): void; answer: Promise<{ status: number; body: string } | string> } {
  const outgoing = request(url, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      'content-type': contentType,
      'content-length': String(length),
    },
  });
  const answer = new Promise<{ status: number; body: string } | string>((resolve) => {
    outgoing.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', (error) => resolve(error.message));
    });
    outgoing.on('error', (error) => resolve(error.message));
  });
  // Headers now, and the body as the test writes it; the request is never ended (no FIN follows).
  outgoing.flushHeaders();
  return { write: (chunk) => outgoing.write(chunk), answer };
}

onBothStores('a bundle upload whose client goes silent mid-body', (store, openStores, currentSchema) => {
  it('is given up after the idle timeout: 408, nothing stored, and the drain does not wait on it', async () => {
    const notices: string[] = [];
    const { server, dir } = await startTestServer({
      stores: await openStores(),
      bodyIdleTimeoutMs,
      drainTimeoutMs: 10_000,
      logNotice: (line) => notices.push(line),
    });
    const { body, sha256 } = bundleOf(256 * 1024);
    const upload = startRequest(
      `${server.url}/api/v1/bundles/${sha256}`,
      'PUT',
      'application/gzip',
      body.length,
    );
    upload.write(body.subarray(0, 1024));

    const answer = await Promise.race([upload.answer, sleep(5_000).then(() => 'no answer in 5 s')]);
    expect(answer).toMatchObject({ status: 408 });
    expect(JSON.parse((answer as { body: string }).body)).toEqual({
      code: 'VK_REQUEST_TIMEOUT',
      message: `no byte of the request body arrived for ${bodyIdleTimeoutMs} ms; the request was given up, send it again`,
    });
    const bundles = join(dir, 'bundles');
    if (store === 'SQLite')
      await until(
        () => !existsSync(bundles) || !readdirSync(bundles).some((name) => name.startsWith('.upload-')),
      );
    // The operator learns of it too: the client that went silent may never read its 408.
    expect(notices).toEqual([
      `gave up PUT /api/v1/bundles/${sha256}: no byte of its body arrived for ${bodyIdleTimeoutMs} ms (--body-timeout)`,
    ]);
    // Nothing of it was kept: the same bundle sent whole is created anew.
    const whole = startUpload(server.url, sha256, body.length);
    whole.request.end(body);
    expect(await whole.answer).toBe(201);

    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  if (store === 'Postgres')
    it('is not given up while its bytes wait for the store, however long that takes', async () => {
      const { server } = await startTestServer({ stores: await openStores(), bodyIdleTimeoutMs });
      const { body, sha256 } = bundleOf(3 * 1024 * 1024);
      await withRawClient(async (client) => {
        // The upload's first chunk waits on this lock; the rest of its body waits unread meanwhile.
        await client.query('BEGIN');
        await client.query(`LOCK TABLE "${currentSchema?.()}".bundle_chunks IN EXCLUSIVE MODE`);
        const upload = startUpload(server.url, sha256, body.length);
        upload.request.end(body);
        await sleep(bodyIdleTimeoutMs * 4);
        await client.query('COMMIT');
        expect(await upload.answer).toBe(201);
      });
      await server.close();
    });
});

describe('request bodies and the idle timeout', () => {
  it('lets a slow upload that keeps moving finish, however long it takes in all', async () => {
    const { server } = await startTestServer({ bodyIdleTimeoutMs });
    const { body, sha256 } = bundleOf(16 * 1024);
    const upload = startUpload(server.url, sha256, body.length);
    // 16 pieces 100 ms apart: 1.6 s in all, over five times the idle timeout.
    for (let offset = 0; offset < body.length; offset += 1024) {
      upload.request.write(body.subarray(offset, offset + 1024));
      await sleep(100);
    }
    upload.request.end();
    expect(await upload.answer).toBe(201);
    await server.close();
  });

  // Node's own limit on a whole request (requestTimeout, 300 s by default) cut off a bundle upload
  // that kept moving: one sending 100 bytes a second to a real valkyrie server was answered 408
  // 'the request did not arrive whole in time' after 329 s. Too long to wait for here: the limits
  // themselves are checked on the listening server, as Node applies them.
  it('sets no limit on a whole request, and keeps the one on its headers', async () => {
    const { server } = await startTestServer({ bodyIdleTimeoutMs });
    expect(server.app.server.requestTimeout).toBe(0);
    expect(server.app.server.headersTimeout).toBe(60_000);
    await server.close();
  });

  it('gives up a submitted run whose JSON body stops arriving', async () => {
    const { server } = await startTestServer({ bodyIdleTimeoutMs });
    const submit = startRequest(`${server.url}/api/v1/runs`, 'POST', 'application/json', 10_000);
    submit.write(Buffer.from('{"workflow": "name: stalled\\n'));
    const answer = await Promise.race([submit.answer, sleep(5_000).then(() => 'no answer in 5 s')]);
    expect(answer).toMatchObject({ status: 408 });
    expect(JSON.parse((answer as { body: string }).body)).toMatchObject({ code: 'VK_REQUEST_TIMEOUT' });
    await server.close();
  });

  it('does not time an event stream that is quiet for longer than the idle timeout', async () => {
    const { server, request: api } = await startTestServer({ bodyIdleTimeoutMs });
    const submitted = await api('POST', '/api/v1/runs', {
      body: { workflow: 'jobs:\n  wait:\n    runs-on: nowhere\n    steps:\n      - run: "true"\n' },
    });
    expect(submitted.status).toBe(201);
    const runId = (submitted.body as { run: { id: string } }).run.id;
    const events = await fetch(`${server.url}/api/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(events.status).toBe(200);
    const reader = events.body?.getReader();
    const ended = (async () => {
      for (;;) if ((await reader?.read())?.done !== false) return 'closed';
    })();
    // Nothing happens to a run whose job has no runner: the stream is quiet, and stays open.
    expect(await Promise.race([ended, sleep(bodyIdleTimeoutMs * 3).then(() => 'open')])).toBe('open');
    await reader?.cancel();
    await server.close();
  });

  it("answers 408 to a runner's long-poll batch whose body stops arriving, and holds its polls as long as they ask", async () => {
    const {
      server,
      request: api,
      token,
    } = await startTestServer({
      bodyIdleTimeoutMs,
      longPoll: { holdMs: bodyIdleTimeoutMs * 3 },
    });
    const runner = await credential(api, token);
    const base = `${server.url}/api/v1/runner/poll/sessions`;
    const headers = { authorization: `Bearer ${runner}`, 'content-type': 'application/json' };
    const opened = await fetch(base, { method: 'POST', headers, body: '{}' });
    expect(opened.status).toBe(201);
    const { sessionId } = (await opened.json()) as { sessionId: string };

    // A poll with nothing to say is held its whole holdMs, three times the body timeout, and answered.
    const started = Date.now();
    const held = await fetch(`${base}/${sessionId}/messages?ack=0`, { headers });
    expect(held.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(bodyIdleTimeoutMs * 3 - 50);

    const batch = startRequest(`${base}/${sessionId}/messages`, 'POST', 'application/json', 1_000, runner);
    batch.write(Buffer.from('{"v":1,"seq":1,"messages":['));
    const answer = await Promise.race([batch.answer, sleep(5_000).then(() => 'no answer in 5 s')]);
    // The acceptor answers its requests itself; the batch it never got whole is still answered 408
    // (it was closed unanswered: 'socket hang up'), in the long-poll's {code, message}.
    expect(answer).toMatchObject({ status: 408 });
    expect(JSON.parse((answer as { body: string }).body)).toEqual({
      code: 'VK_REQUEST_TIMEOUT',
      message: `no byte of the request body arrived for ${bodyIdleTimeoutMs} ms; the request was given up, send it again`,
    });
    // Nothing of it was taken: the batch sent whole is the session's first.
    const whole = await fetch(`${base}/${sessionId}/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ v: 1, seq: 1, messages: [] }),
    });
    expect(whole.status).toBe(200);
    await server.close();
  });
});
