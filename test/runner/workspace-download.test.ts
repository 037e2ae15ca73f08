import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackedBundle, packWorkspace } from '../../src/bundle/pack.js';
import { downloadWorkspace } from '../../src/runner/workspace-download.js';
import { readTree, writeTree } from '../bundle/tree.js';

let dir = '';
let bundle: PackedBundle;
let server: Server;
let serverUrl = '';
const requests: { url?: string; authorization?: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'valkyrie-download-'));
  writeTree(join(dir, 'source'), [
    { kind: 'file', path: 'build.sh', content: 'echo build\n', mode: 0o755 },
    { kind: 'symlink', path: 'latest', target: 'build.sh' },
  ]);
  bundle = await packWorkspace(join(dir, 'source'));
  const bytes = readFileSync(bundle.path);
  server = createServer((request, response) => {
    requests.push({ url: request.url, authorization: request.headers.authorization });
    if (request.url !== '/api/v1/jobs/job-1/workspace' || request.headers.authorization !== 'Bearer tok-1') {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ code: 'VK_FORBIDDEN', message: 'this token is for another job' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/gzip' });
    response.end(bytes);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  await bundle.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('downloadWorkspace', () => {
  it("fetches the job's bundle with its token and unpacks it into the job directory", async () => {
    const jobDir = join(dir, 'jobs', 'job-1');
    const path = await downloadWorkspace({
      serverUrl,
      jobId: 'job-1',
      jobToken: 'tok-1',
      sha256: bundle.sha256,
      jobDir,
    });
    expect(path).toBe(jobDir);
    expect(readTree(jobDir)).toEqual([
      { kind: 'file', path: 'build.sh', content: 'echo build\n', mode: 0o755 },
      { kind: 'symlink', path: 'latest', target: 'build.sh' },
    ]);
    expect(requests.at(-1)).toEqual({ url: '/api/v1/jobs/job-1/workspace', authorization: 'Bearer tok-1' });
    expect(await readdir(join(dir, 'jobs'))).toEqual(['job-1']);
  });

  it("refuses bytes that do not hash to the sha256 of the job spec as the server's damaged copy, and leaves no download behind", async () => {
    const jobDir = join(dir, 'mismatch', 'job-1');
    const sha256 = '0'.repeat(64);
    await expect(
      downloadWorkspace({ serverUrl, jobId: 'job-1', jobToken: 'tok-1', sha256, jobDir }),
    ).rejects.toMatchObject({ code: 'VK_BUNDLE_DAMAGED' });
    expect(await readdir(join(dir, 'mismatch'))).toEqual([]);
  });

  it("does not call a response without framing (ended by its connection) the server's damaged copy: it may be cut short", async () => {
    const bytes = readFileSync(bundle.path);
    // As a proxy that drops both Content-Length and chunked may answer: the body ends where the
    // connection does, so a connection cut short reads as a whole, shorter body.
    const unframed = createNetServer((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\nconnection: close\r\n\r\n');
        socket.end(bytes.subarray(0, bytes.length >> 1));
      }),
    );
    await new Promise<void>((done) => unframed.listen(0, '127.0.0.1', done));
    try {
      const error = await downloadWorkspace({
        serverUrl: `http://127.0.0.1:${(unframed.address() as AddressInfo).port}`,
        jobId: 'job-1',
        jobToken: 'tok-1',
        sha256: bundle.sha256,
        jobDir: join(dir, 'unframed', 'job-1'),
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'VK_BUNDLE_HASH_MISMATCH',
        message: expect.stringContaining('may have been cut short'),
      });
      expect(String(error)).not.toContain('submit the run again');
    } finally {
      await new Promise((done) => unframed.close(done));
    }
  });

  // The server's own answer is chunked (a stream); a proxy may send a Content-Length. Either way the
  // framing says the body was not whole, which undici told only as "terminated".
  it.each([
    ['a Content-Length', true, (total: number) => `of ${total} bytes`],
    ['chunked transfer coding', false, () => 'bytes of a chunked response'],
  ])(
    'says, with a code, that a download framed with %s was cut short, and how far it came',
    async (_, withLength, ofWhat) => {
      const bytes = readFileSync(bundle.path);
      const cutting = createServer((_request, response) => {
        response.writeHead(200, {
          'content-type': 'application/gzip',
          ...(withLength ? { 'content-length': String(bytes.length) } : {}),
        });
        // Once the first half is handed to the kernel the connection closes where the framing
        // promised more.
        response.write(bytes.subarray(0, bytes.length >> 1), () => response.socket?.destroy());
      });
      await new Promise<void>((done) => cutting.listen(0, '127.0.0.1', done));
      const origin = `http://127.0.0.1:${(cutting.address() as AddressInfo).port}`;
      try {
        const error = await downloadWorkspace({
          serverUrl: origin,
          jobId: 'job-1',
          jobToken: 'tok-1',
          sha256: bundle.sha256,
          jobDir: join(dir, 'cut', 'job-1'),
        }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'VK_BUNDLE_DOWNLOAD_CUT' });
        // How much of the half arrives before the close is read depends on the moment: undici drops
        // what it holds unread when the connection fails.
        const cut = `the workspace bundle download of job job-1 from ${origin} was cut short after (\\d+) ${ofWhat(bytes.length)} \\(other side closed`;
        const received = Number(new RegExp(cut).exec(String(error))?.[1]);
        expect(received).toBeLessThanOrEqual(bytes.length >> 1);
        expect(await readdir(join(dir, 'cut'))).toEqual([]);
      } finally {
        await new Promise((done) => cutting.close(done));
      }
    },
  );

  it('keeps its own error when the partial download cannot be removed after it', async () => {
    const bytes = readFileSync(bundle.path);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cutting = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(bytes.length) });
      response.write(bytes.subarray(0, bytes.length >> 1));
      void released.then(() => response.socket?.destroy());
    });
    await new Promise<void>((done) => cutting.listen(0, '127.0.0.1', done));
    const jobDir = join(dir, 'unremovable', 'job-1');
    const archive = join(dir, 'unremovable', '.job-1.bundle.tar.gz');
    try {
      const download = downloadWorkspace({
        serverUrl: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}`,
        jobId: 'job-1',
        jobToken: 'tok-1',
        sha256: bundle.sha256,
        jobDir,
      }).catch((e: unknown) => e);
      // A directory takes the partial file's place: its removal after the cut then fails (EISDIR).
      while (!existsSync(archive) || statSync(archive).size === 0)
        await new Promise((resolve) => setTimeout(resolve, 5));
      await rm(archive);
      await mkdir(archive);
      release();
      expect(await download).toMatchObject({ code: 'VK_BUNDLE_DOWNLOAD_CUT' });
    } finally {
      await new Promise((done) => cutting.close(done));
    }
  });

  it("reports the server's refusal with its code", async () => {
    const jobDir = join(dir, 'forbidden', 'job-2');
    const error = await downloadWorkspace({
      serverUrl,
      jobId: 'job-2',
      jobToken: 'tok-1',
      sha256: bundle.sha256,
      jobDir,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VK_SERVER_RESPONSE' });
    expect(String(error)).toContain('HTTP 403, VK_FORBIDDEN: this token is for another job');
  });

  it('says when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const error = await downloadWorkspace({
      serverUrl: `http://127.0.0.1:${port}`,
      jobId: 'job-1',
      jobToken: 'tok-1',
      sha256: bundle.sha256,
      jobDir: join(dir, 'unreachable'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VK_SERVER_UNREACHABLE' });
    expect(String(error)).toContain('ECONNREFUSED');
  });

  it('says, with its own code, when the server has a TLS certificate this process does not trust', async () => {
    const tls = resolve(import.meta.dirname, '../fixtures/tls');
    const secure = createHttpsServer({
      cert: readFileSync(join(tls, 'cert.pem')),
      key: readFileSync(join(tls, 'key.pem')),
    });
    secure.on('request', (_request, response) => response.writeHead(500).end());
    await new Promise<void>((done) => secure.listen(0, '127.0.0.1', done));
    const serverUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
    try {
      const error = await downloadWorkspace({
        serverUrl,
        jobId: 'job-1',
        jobToken: 'tok-1',
        sha256: bundle.sha256,
        jobDir: join(dir, 'untrusted'),
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'VK_TLS_CERTIFICATE' });
      expect(String(error)).toContain(
        `the server's TLS certificate is not trusted (self-signed certificate): ${serverUrl} — `,
      );
    } finally {
      await new Promise((done) => secure.close(done));
    }
  });
});
