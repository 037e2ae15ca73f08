import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { collect, Workspace } from './cli.js';

// No runner has the label: the run stays queued, and its event stream open.
const workflow = `name: ci
jobs:
  build:
    runs-on: [self-hosted, gpu]
    steps: [{ run: "true" }]
`;

/** The /metrics lines of `name` (with their labels) whose labels contain `labels`. */
async function samples(server: TestServer, name: string, labels = ''): Promise<string[]> {
  const text = (await server.request('GET', '/metrics')).text;
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels));
}

async function waitForOpenStreams(server: TestServer, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [line] = await samples(server, 'valkyrie_event_streams_open');
    if (line?.endsWith(` ${count}`)) return;
    if (Date.now() > deadline) throw new Error(`no ${count} open event streams: ${line}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('valkyrie submit --follow, its token revoked midway', () => {
  const ws = new Workspace();
  ws.write('ci.yml', workflow);
  afterAll(() => ws.dispose());

  it('prints the reason the server ended the stream once and exits 77, without reconnecting', async () => {
    const server = await startTestServer();
    const token = await server.token('submit');
    const tokenId = token.split('.')[1] ?? '';
    const child = ws.start(['submit', 'ci.yml', '--no-bundle', '--follow', '--json'], {
      VALKYRIE_SERVER: server.server.url,
      VALKYRIE_TOKEN: token,
    });
    const done = collect(child);
    await waitForOpenStreams(server, 1);

    expect((await server.request('DELETE', `/api/v1/tokens/${tokenId}`)).status).toBe(204);
    const result = await done;
    const runId = /"runId":"([^"]+)"/.exec(result.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(result.stderr).toBe(
      `Submitted run ${runId} of ci (#1) to ${server.server.url}\n` +
        `valkyrie: the server ended the event stream of run ${runId}: token ${tokenId} was revoked (VK_UNAUTHORIZED)\n`,
    );
    expect(result.code).toBe(77);
    // One request for the run's events, which streamed; none after it (a reconnect would be a 401).
    const events = await samples(server, 'valkyrie_http_requests_total', 'route="/api/v1/runs/:id/events"');
    expect(events).toEqual([
      'valkyrie_http_requests_total{method="GET",route="/api/v1/runs/:id/events",status="200"} 1',
    ]);
  });
});
