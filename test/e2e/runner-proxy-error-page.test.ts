import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { runnerRetryLines, storedCredentialDir } from './runner-retry-lines.js';

/**
 * A real `valkyrie runner` behind a reverse proxy whose upstream, the server, is down: the proxy
 * answers 502 with its HTML page. Each retry line carried the page, a dozen lines of HTML a retry,
 * and said the server was unreachable though it had answered.
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

const runnerLines = (args: readonly string[], workDir: string) => runnerRetryLines(ws, args, workDir);

describe('valkyrie runner retrying a proxy that answers with an HTML error page', () => {
  // The server answered: "unreachable" sent the operator after the network, not the server behind the proxy.
  it('says each retry in one line that names what it answered and the page by its title', async () => {
    const lines = await runnerLines(['--server', url, '--token', 'unused-token'], join(ws.dir, 'work'));
    expect(lines[0]).toMatch(
      new RegExp(
        `^valkyrie runner: ${url} not usable for \\S+: it answered 502 Bad Gateway \\(last error: registration: answered 502: HTTP 502: 502 Bad Gateway \\(an HTML page, not a Valkyrie API answer\\)\\); retrying in \\d`,
      ),
    );
  }, 30_000);

  it('says the same while it connects with a stored credential', async () => {
    const workDir = storedCredentialDir(join(ws.dir, 'stored'), url);
    const lines = await runnerLines(['--server', url], workDir);
    expect(lines[0]).toMatch(
      new RegExp(
        `^valkyrie runner: ${url} not usable for \\S+: it answered 502 Bad Gateway \\(last error: websocket: upgrade refused with HTTP_502: .*; long-poll: session refused with HTTP_502: .*\\); retrying in \\d`,
      ),
    );
  }, 30_000);

  it('says the TLS handshake failed for an https:// URL of a plain-HTTP server, not that it is unreachable', async () => {
    const https = url.replace('http:', 'https:');
    const lines = await runnerLines(['--server', https, '--token', 'unused-token'], join(ws.dir, 'tls'));
    expect(lines[0]).toMatch(
      new RegExp(
        `^valkyrie runner: ${https} not usable for \\S+: TLS handshake failed, is the server plain http\\? \\(last error: registration: the server at ${https} does not answer TLS \\(ERR_SSL_WRONG_VERSION_NUMBER\\): it looks like a plain-HTTP server; try ${url}\\); retrying in \\d`,
      ),
    );
  }, 30_000);
});
