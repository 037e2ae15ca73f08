import { readdir } from 'node:fs/promises';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { within } from '../core/race-timeout.js';
import { adminToken, startTestServer } from './helpers.js';

const sha = 'b'.repeat(64);

/** A bundle upload declaring `length` bytes, of which `sent` are written; the body is never ended. */
function startUpload(url: string, length: number, sent: number) {
  const request: ClientRequest = httpRequest(`${url}/api/v1/bundles/${sha}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${adminToken}`,
      'content-type': 'application/gzip',
      'content-length': String(length),
    },
  });
  request.on('error', () => undefined);
  const response = new Promise<IncomingMessage>((resolve) => request.on('response', resolve));
  request.write(Buffer.alloc(sent));
  return { request, response };
}

async function uploadsIn(dir: string): Promise<string[]> {
  const names = await readdir(join(dir, 'bundles')).catch(() => []);
  return names.filter((name) => name.startsWith('.upload-'));
}

it('refuses an upload whose Content-Length is over the limit at once: 413, no file made', async () => {
  const { server, dir } = await startTestServer();
  const upload = startUpload(server.url, 2_000_000_000, 1000);
  const response = await within(upload.response, 2_000, 'answer');
  expect(response.statusCode).toBe(413);
  expect(response.headers.connection).toBe('close');
  let text = '';
  for await (const piece of response) text += String(piece);
  expect(JSON.parse(text)).toMatchObject({ code: 'VK_BODY_TOO_LARGE' });
  expect(await uploadsIn(dir)).toEqual([]);
  upload.request.destroy();
});

it('a client that goes away mid-upload is one quiet line, not an unexpected error', async () => {
  const errors: unknown[] = [];
  const notices: string[] = [];
  const { server, dir } = await startTestServer({
    logError: (error) => errors.push(error),
    logNotice: (line) => notices.push(line),
  });
  const upload = startUpload(server.url, 100_000, 1000);
  // The server is reading it once its file exists.
  for (let i = 0; i < 200 && (await uploadsIn(dir)).length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  expect(await uploadsIn(dir)).toHaveLength(1);
  upload.request.destroy();
  for (let i = 0; i < 200 && ((await uploadsIn(dir)).length > 0 || notices.length === 0); i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(errors).toEqual([]);
  expect(notices).toEqual([`bundle upload ${sha} ended early: the client went away`]);
  expect(await uploadsIn(dir)).toEqual([]);
});
