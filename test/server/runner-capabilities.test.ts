import { describe, expect, it } from 'vitest';
import { sampleCapabilities } from '../protocol/samples.js';
import { connectScriptedRunner, credential, startTestServer, type TestServer } from './helpers.js';

interface Listed {
  readonly name: string;
  readonly capabilities?: { readonly diskFreeBytes: number; readonly tools: Record<string, string> };
}

/** Polls GET /api/v1/runners until `accept` holds for the scripted runner's entry (5 s at most). */
async function waitForListing(live: TestServer, accept: (runner: Listed) => boolean): Promise<Listed> {
  let last: Listed | undefined;
  for (let i = 0; i < 250; i++) {
    const { runners } = (await live.request('GET', '/api/v1/runners')).body as { runners: Listed[] };
    last = runners.find((runner) => runner.name === 'scripted');
    if (last !== undefined && accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the runner listing never matched; last seen: ${JSON.stringify(last)}`);
}

describe('capability refresh', () => {
  it('a capabilities message from a connected runner replaces what GET /api/v1/runners shows', async () => {
    const live = await startTestServer();
    const runner = await connectScriptedRunner(
      live.server.url,
      await credential(live.request, live.token),
      1,
    );
    // connectScriptedRunner registers without capabilities.
    expect((await waitForListing(live, () => true)).capabilities).toBeUndefined();

    runner.transport.send({ type: 'capabilities', capabilities: sampleCapabilities });
    const first = await waitForListing(live, (listed) => listed.capabilities !== undefined);
    expect(first.capabilities).toEqual(sampleCapabilities);

    // A later refresh: less disk, a new tool. The listing shows the new detection whole.
    const refreshed = {
      ...sampleCapabilities,
      diskFreeBytes: 2 ** 20,
      tools: { git: '2.39.5', node: '20.19.0', go: '1.22.1' },
      detectedAt: 2,
    };
    runner.transport.send({ type: 'capabilities', capabilities: refreshed });
    const second = await waitForListing(live, (listed) => listed.capabilities?.diskFreeBytes === 2 ** 20);
    expect(second.capabilities).toEqual(refreshed);
    runner.transport.close();
  });
});
