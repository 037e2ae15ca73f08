import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { registerRunner } from '../../src/runner/registration.js';

it("names a plain-HTTP server behind an https:// URL as the registration's retry reason, not OpenSSL's text", async () => {
  const server = createServer((_request, response) => response.end('{}'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  try {
    const result = await registerRunner(`https://127.0.0.1:${port}`, 'tok', {
      name: 'r1',
      labels: [],
      capacity: 1,
    });
    expect(result).toEqual({
      kind: 'unreachable',
      reason: `the server at https://127.0.0.1:${port} does not answer TLS (ERR_SSL_WRONG_VERSION_NUMBER): it looks like a plain-HTTP server; try http://127.0.0.1:${port}`,
    });
  } finally {
    server.close();
  }
});
