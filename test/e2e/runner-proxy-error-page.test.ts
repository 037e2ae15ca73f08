import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/**
 * A real `valkyrie runner` behind a reverse proxy whose upstream, the server, is down: the proxy
 * answers 502 with its HTML page. Each retry line carried the page, a dozen lines of HTML a retry.
 */
const nginxPage =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const ws = new Workspace();
let proxy: Server;
let url = '';

beforeAll(async () => {
  proxy = createServer((_request, response) => {
    response.writeHead(502, { 'content-type': 'text/html' });
    response.end(nginxPage);
  });
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(() => {
  proxy.close();
  ws.dispose();
});

describe('valkyrie runner retrying a proxy that answers with an HTML error page', () => {
  it('says each retry in one line that names the page by its title', async () => {
    const result = await ws.run([
      ...['runner', '--server', url, '--token', 'unused-token'],
      ...['--work-dir', join(ws.dir, 'work'), '--idle-timeout', '2s'],
    ]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toMatch(/^valkyrie runner: /);
    expect(lines[0]).toMatch(
      new RegExp(
        `^valkyrie runner: ${url} unreachable for \\S+ \\(last error: registration: answered 502: HTTP 502: 502 Bad Gateway \\(an HTML page, not a Valkyrie API answer\\)\\); retrying in \\d`,
      ),
    );
  }, 30_000);
});
