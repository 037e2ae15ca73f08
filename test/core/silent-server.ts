import { type AddressInfo, createServer } from 'node:net';

/**
 * A TCP server on loopback that takes every connection and reads what it is sent, but never answers:
 * a server that hangs, as a client sees it. `url` is an http:// URL to it.
 */
export async function startSilentServer(): Promise<{ url: string; close(): void }> {
  const server = createServer((socket) => socket.resume());
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}
