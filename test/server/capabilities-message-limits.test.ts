import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { encodeFrame } from '../../src/protocol/frame.js';
import type { RunnerCapabilities } from '../../src/protocol/messages.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { sampleCapabilities } from '../protocol/samples.js';
import { credential, runningJob, startTestServer, waitForRunStatus } from './helpers.js';
import { answerOf, openRunnerSocket, postToNewSession } from './raw-runner.js';

const runner = { name: 'odd-machine', labels: ['self-hosted', 'linux'], capacity: 1 };
// Mode messages: the `drain` sent after a refresh is answered by one when the refresh is taken.
const register = (capabilities: RunnerCapabilities) => ({
  type: 'register',
  version: 1,
  runner,
  capabilities,
  modeMessages: true,
});
const drain = { type: 'drain', reason: 'answer me' };
const refresh = (capabilities: RunnerCapabilities) => ({ type: 'capabilities', capabilities });
const caps = (part: Partial<RunnerCapabilities>): RunnerCapabilities => ({ ...sampleCapabilities, ...part });
const gpu = (name: string) => ({ name, memoryMiB: 15360 });

/** Capabilities past the protocol's bounds, and the field the refusal must name (after `m.capabilities.`). */
const refused: [RunnerCapabilities, RegExp][] = [
  [
    caps({ tools: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`t${i}`, '1.0'])) }),
    /^tools: .*100/,
  ],
  [
    caps({ tools: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`t${i}`, '1.0'])) }),
    /^tools: .*100/,
  ],
  [caps({ tools: { git: `2.39.5-${'a'.repeat(94)}` } }), /^tools\.git: .*100/],
  // The field is the key itself: a WebSocket close reason (123 bytes at most) ends within it.
  [caps({ tools: { [`t${'o'.repeat(100)}`]: '1.0' } }), /^tools\.to{30}/],
  [caps({ os: 'l'.repeat(257) }), /^os: .*256/],
  [caps({ arch: 'x'.repeat(257) }), /^arch: .*256/],
  [caps({ cpuModel: 'c'.repeat(257) }), /^cpuModel: .*256/],
  [caps({ gpus: Array.from({ length: 65 }, () => gpu('NVIDIA T4')) }), /^gpus: .*64/],
  [caps({ gpus: [gpu('NVIDIA T4'), gpu('g'.repeat(257))] }), /^gpus\.1\.name: .*256/],
  [caps({ docker: { endpoint: `unix://${'d'.repeat(250)}` } }), /^docker\.endpoint: .*256/],
  [
    caps({ docker: { endpoint: 'unix:///d.sock', apiVersion: '1'.repeat(257) } }),
    /^docker\.apiVersion: .*256/,
  ],
];

/** The most each bound takes: what a runner fits its detection into. */
const widest = caps({
  os: 'l'.repeat(256),
  arch: 'x'.repeat(256),
  cpuModel: 'c'.repeat(256),
  gpus: Array.from({ length: 64 }, (_, i) => gpu(`${i}`.padEnd(256, 'g'))),
  docker: { endpoint: 'd'.repeat(256), apiVersion: 'v'.repeat(256) },
  tools: Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [`${i}`.padEnd(100, 't'), 'v'.repeat(100)]),
  ),
});

/** The first message `socket` gets (`registered`), as JSON text; rejects when it closes first. */
function firstMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('message', (data: Buffer) => resolve(data.toString('utf8')));
    socket.once('close', (code: number, reason: Buffer) => reject(new Error(`closed ${code} ${reason}`)));
  });
}

function expectRefusal(answer: { code?: number; reason: string }, field: RegExp): void {
  expect(answer).toMatchObject({
    code: closeCodes.protocol,
    reason: expect.stringMatching(/^VK_PROTOCOL: /),
  });
  expect(answer.reason.replace(/^VK_PROTOCOL: m\.capabilities\./, '')).toMatch(field);
}

describe("the protocol's capabilities: tools, GPUs and text within bounds", () => {
  it('closes the session whose register or capabilities message is past them, naming the field; serves the others', async () => {
    const live = await startTestServer();
    const good = await runningJob(live);
    const odd = await credential(live.request, live.token);
    for (const [capabilities, field] of refused) {
      const registering = await openRunnerSocket(live.server.url, odd);
      const registerAnswer = answerOf(registering);
      registering.send(encodeFrame(register(capabilities)));
      expectRefusal(await registerAnswer, field);

      // Mid-session: registered with fitting capabilities, then a refresh past the bounds.
      const refreshing = await openRunnerSocket(live.server.url, odd);
      const registered = firstMessage(refreshing);
      refreshing.send(encodeFrame(register(sampleCapabilities)));
      expect(await registered).toContain('"registered"');
      const refreshAnswer = answerOf(refreshing);
      refreshing.send(encodeFrame(refresh(capabilities)));
      refreshing.send(encodeFrame(drain));
      expectRefusal(await refreshAnswer, field);
    }

    for (const [capabilities, field] of refused) {
      for (const messages of [
        [register(capabilities)],
        [register(sampleCapabilities), refresh(capabilities)],
      ]) {
        const { status, body } = await postToNewSession(live.server.url, odd, messages);
        expect(status).toBe(400);
        expect(body.code).toBe('VK_PROTOCOL');
        expect(body.message?.replace(/^messages\[\d\]\.capabilities\./, '')).toMatch(field);
      }
    }

    good.succeed();
    await waitForRunStatus(live.request, good.runId, 'succeeded');
    expect(good.runner.transport.isClosed).toBe(false);

    // At the bounds: registered, and listed as sent.
    const atBounds = await openRunnerSocket(live.server.url, odd);
    const registered = firstMessage(atBounds);
    atBounds.send(encodeFrame(register(widest)));
    expect(await registered).toContain('"registered"');
    await expect
      .poll(async () => {
        const { runners } = (await live.request('GET', '/api/v1/runners')).body as {
          runners: { name: string; capabilities?: RunnerCapabilities }[];
        };
        return runners.find((listed) => listed.name === runner.name)?.capabilities;
      })
      .toEqual(widest);
    atBounds.close();
  });
});
