import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  freePort,
  killAll,
  type StartedProcess,
  type StartedServer,
  startServer,
} from './fleet-processes.js';
import { runnerRetryLines, storedCredentialDir } from './runner-retry-lines.js';

/**
 * `valkyrie runner --server http://HOST:PORT` for a `valkyrie server --tls-cert/--tls-key`, which
 * speaks https only: it closes each plain-HTTP request without an answer (fetch: `other side closed`;
 * node:http and ws: `socket hang up`). The runner said `http://HOST:PORT unreachable for 3.5s` after
 * every round, though the server was there; it now checks with a TLS handshake and says to use
 * https://. A port where nothing listens, or a plain server that closes each request the same way, is
 * still unreachable: a closed connection alone is not taken for TLS.
 */
const admin = 'vkt-e2e-http-at-tls-admin-0123456789';
const cert = resolve(import.meta.dirname, '../fixtures/tls/cert.pem');
const key = resolve(import.meta.dirname, '../fixtures/tls/key.pem');
/** The probe does not check the certificate: the runner need not trust it to be told the scheme. */
const untrusted = { NODE_EXTRA_CA_CERTS: '', VALKYRIE_TOKEN: '' };
const duration = '[\\d.]+(?:ms|s|m)';

const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let httpUrl = '';

beforeAll(async () => {
  server = await startServer(ws, ['--tls-cert', cert, '--tls-key', key], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  httpUrl = server.url.replace(/^https:/, 'http:');
});

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

/** The line of a round at httpUrl whose last error is `what`. */
const speaksTlsLine = (what: string) =>
  new RegExp(
    `^valkyrie runner: ${httpUrl} not usable for ${duration}: it closed the connection at once and answers TLS, ` +
      `not plain HTTP; try ${server.url} \\(last error: ${what}\\); retrying in ${duration}$`,
  );

describe('valkyrie runner given http:// for a server that speaks https only', () => {
  it('registering, says the server answers TLS and to try https://, not that it is unreachable', async () => {
    const lines = await runnerRetryLines(
      ws,
      ['--server', httpUrl, '--token', 'unused-token'],
      join(ws.dir, '.valkyrie', 'work-register'),
      untrusted,
    );
    expect(lines[0]).toMatch(speaksTlsLine('registration: other side closed'));
    expect(lines.join('\n')).not.toContain('unreachable');
  }, 30_000);

  it.each([
    ['auto', 'websocket: socket hang up; long-poll: socket hang up'],
    ['ws', 'websocket: socket hang up'],
    ['http', 'long-poll: socket hang up'],
  ])(
    'connecting with a stored credential (--protocol %s), says the same',
    async (protocol, what) => {
      const workDir = storedCredentialDir(join(ws.dir, '.valkyrie', `work-${protocol}`), httpUrl);
      const lines = await runnerRetryLines(
        ws,
        ['--server', httpUrl, '--protocol', protocol],
        workDir,
        untrusted,
      );
      expect(lines[0]).toMatch(speaksTlsLine(what));
      expect(lines.join('\n')).not.toContain('unreachable');
    },
    30_000,
  );

  it('client commands say it in one line too: runs, submit', async () => {
    ws.write('ci.yml', 'name: n\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: "true"\n');
    const line = `valkyrie: the server at ${httpUrl} closed the connection: it answers TLS, not plain HTTP; try ${server.url}\n`;
    for (const args of [['runs'], ['submit', 'ci.yml']]) {
      const result = await ws.run([...args, '--server', httpUrl], { ...untrusted, VALKYRIE_TOKEN: admin });
      expect(result).toMatchObject({ code: 69, stdout: '', stderr: line });
    }
  }, 30_000);
});

describe('valkyrie runner at an http:// URL where no TLS server is', () => {
  let closing: Server;
  beforeAll(async () => {
    // A plain server that closes each connection on the request without an answer, as the TLS server
    // does: the runner's request fails the same way (`other side closed`), and only the handshake differs.
    closing = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((done) => closing.listen(0, '127.0.0.1', done));
  });
  afterAll(() => new Promise<void>((done) => closing.close(() => done())));

  it.each([
    ['nothing listens', async () => freePort(), 'connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+'],
    [
      'a plain server closes each request without an answer',
      async () => {
        const address = closing.address();
        return typeof address === 'object' && address !== null ? address.port : 0;
      },
      'other side closed',
    ],
  ])(
    'still says unreachable when %s',
    async (what, port, error) => {
      const url = `http://127.0.0.1:${await port()}`;
      const lines = await runnerRetryLines(
        ws,
        ['--server', url, '--token', 'unused-token'],
        join(ws.dir, '.valkyrie', `work-${what.replaceAll(' ', '-')}`),
        untrusted,
      );
      expect(lines[0]).toMatch(
        new RegExp(
          `^valkyrie runner: ${url} unreachable for ${duration} \\(last error: registration: ${error}\\); retrying in ${duration}$`,
        ),
      );
    },
    30_000,
  );
});
