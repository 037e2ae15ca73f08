import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, get, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type CertificateFailure,
  certificateFailure,
  describeCertificateFailure,
} from '../../src/protocol/tls-certificate.js';

const fixtures = resolve(import.meta.dirname, '../fixtures/tls');
/** Self-signed, for IP 127.0.0.1 only. */
const cert = readFileSync(join(fixtures, 'cert.pem'));
const key = readFileSync(join(fixtures, 'key.pem'));

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer({ cert, key }, (_request, response) => response.end('ok'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((done) => server.close(done));
});

/** How a node:https GET to the test server ends: its error, or undefined when it was answered. */
function httpsError(options: Parameters<typeof get>[1]): Promise<unknown> {
  return new Promise((done) => {
    get(`https://127.0.0.1:${port}/`, options, (response) => {
      response.resume();
      done(undefined);
    }).on('error', done);
  });
}

describe('certificateFailure', () => {
  it("finds the code on built-in fetch's cause (TypeError: fetch failed)", async () => {
    const error = await fetch(`https://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(certificateFailure(error)).toEqual({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      detail: 'self-signed certificate',
    });
  });

  it('finds it on the errors of node:https and ws', async () => {
    expect(certificateFailure(await httpsError({}))).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const socket = new WebSocket(`wss://127.0.0.1:${port}/`);
    const wsError = await new Promise<unknown>((done) => socket.on('error', done));
    expect(certificateFailure(wsError)).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('tells a certificate for another host name (trusted CA, wrong name)', async () => {
    const wrongHost = await httpsError({ ca: cert, servername: 'ci.example' });
    expect(certificateFailure(wrongHost)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('leaves other errors alone: a refused connection, plain HTTP, no error at all', async () => {
    const closed = createHttpServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const refused = await fetch(`http://127.0.0.1:${closedPort}/`).catch((e: unknown) => e);
    expect(certificateFailure(refused)).toBeUndefined();
    expect(certificateFailure(await httpsError({ ca: cert }))).toBeUndefined();
    expect(certificateFailure('DEPTH_ZERO_SELF_SIGNED_CERT')).toBeUndefined();
    const looped = new Error('loop');
    (looped as Error & { cause?: unknown }).cause = looped;
    expect(certificateFailure(looped)).toBeUndefined();
  });
});

describe('describeCertificateFailure', () => {
  const server = 'https://ci.example:7070';
  const line = (code: string, detail: string, env: NodeJS.ProcessEnv = {}) =>
    describeCertificateFailure(server, { code, detail } satisfies CertificateFailure, env);

  it('says how to trust an unknown CA, or that the trusted file lacks it', () => {
    expect(line('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')).toBe(
      "the server's TLS certificate is not trusted (self-signed certificate in certificate chain): " +
        'https://ci.example:7070 — trust its CA with NODE_EXTRA_CA_CERTS=FILE (PEM; read when the process starts)',
    );
    expect(
      line('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate', {
        NODE_EXTRA_CA_CERTS: '/etc/ci/ca.pem',
      }),
    ).toBe(
      "the server's TLS certificate is not trusted (unable to get local issuer certificate): " +
        'https://ci.example:7070 — NODE_EXTRA_CA_CERTS=/etc/ci/ca.pem does not hold its CA ' +
        '(or could not be read: Node warns at start)',
    );
  });

  it('names an expired certificate, one not valid yet, and one for another host', () => {
    expect(line('CERT_HAS_EXPIRED', 'certificate has expired')).toBe(
      "the server's TLS certificate has expired (certificate has expired): https://ci.example:7070 — " +
        "renew the server's certificate (or check this machine's clock)",
    );
    expect(line('CERT_NOT_YET_VALID', 'certificate is not yet valid')).toMatch(
      /^the server's TLS certificate is not valid yet \(certificate is not yet valid\): https:\/\/ci\.example:7070 — check this machine's clock/,
    );
    expect(line('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")).toMatch(
      /^the server's TLS certificate is not for this host name \(Hostname\/IP does not match certificate's altnames\): https:\/\/ci\.example:7070 — use a host name the certificate names/,
    );
    expect(line('CERT_REVOKED', 'certificate revoked')).toMatch(
      /^the server's TLS certificate failed verification \(certificate revoked\): .* — check the certificate the server is given \(--tls-cert\)$/,
    );
  });
});
