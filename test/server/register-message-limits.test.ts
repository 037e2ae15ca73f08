import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/frame.js';
import type { RunnerInfo } from '../../src/protocol/messages.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import {
  connectScriptedRunner,
  credential,
  runningJob,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { answerOf, openRunnerSocket, postToNewSession } from './raw-runner.js';

const fine: RunnerInfo = { name: 'build-01', labels: ['self-hosted', 'linux'], capacity: 1 };
const register = (runner: Partial<RunnerInfo>) => ({
  type: 'register',
  version: 1,
  runner: { ...fine, ...runner },
});

/** Registers a runner `valkyrie runner` would refuse to start as (its --labels, --name, --capacity). */
const refused: [Partial<RunnerInfo>, RegExp][] = [
  [{ labels: Array.from({ length: 100_000 }, (_, index) => `l${index}`) }, /^m\.runner\.labels: .*200/],
  // Counted before any is checked: one refusal for the count, not one per label (cheap at any count).
  [{ labels: Array.from({ length: 100_000 }, () => 'a b') }, /^m\.runner\.labels: .*200/],
  [{ labels: Array.from({ length: 201 }, (_, index) => `l${index}`) }, /^m\.runner\.labels: .*200/],
  [{ labels: ['linux', 'a b'] }, /^m\.runner\.labels\.1: .*comma/],
  [{ labels: ['gpu,linux'] }, /^m\.runner\.labels\.0: .*comma/],
  [{ labels: ['x'.repeat(201)] }, /^m\.runner\.labels\.0: .*200/],
  [{ capacity: 1025 }, /^m\.runner\.capacity: .*1024/],
  [{ capacity: 1e9 }, /^m\.runner\.capacity: .*1024/],
  [{ name: 'n'.repeat(101) }, /^m\.runner\.name: .*100/],
  [{ name: '   ' }, /^m\.runner\.name: .*blank/],
];

describe("the protocol's register: labels, name and capacity as `valkyrie runner` takes them", () => {
  it('closes a WebSocket or long-poll session whose register is past them, naming the field; serves the others', async () => {
    const live = await startTestServer();
    const good = await runningJob(live);
    const hostile = await credential(live.request, live.token);
    for (const [runner, field] of refused) {
      const socket = await openRunnerSocket(live.server.url, hostile);
      socket.send(encodeFrame(register(runner)));
      const answer = await answerOf(socket);
      expect(answer).toMatchObject({
        code: closeCodes.protocol,
        reason: expect.stringMatching(/^VK_PROTOCOL: /),
      });
      expect(answer.reason.replace(/^VK_PROTOCOL: /, '')).toMatch(field);
    }

    for (const [runner, field] of refused) {
      const { status, body } = await postToNewSession(live.server.url, hostile, [register(runner)]);
      expect(status).toBe(400);
      expect(body.code).toBe('VK_PROTOCOL');
      expect(body.message?.replace(/^messages\[0\]\./, 'm.')).toMatch(field);
    }
    const { runners } = (await live.request('GET', '/api/v1/runners')).body as {
      runners: { name: string }[];
    };
    expect(runners.map((runner) => runner.name)).toEqual(['scripted']);

    good.succeed();
    await waitForRunStatus(live.request, good.runId, 'succeeded');
    expect(good.runner.transport.isClosed).toBe(false);

    // At the bounds, as `valkyrie runner` may register.
    const widest = await connectScriptedRunner(
      live.server.url,
      hostile,
      1024,
      Array.from({ length: 200 }, (_, index) => `${'l'.repeat(190)}${index}`),
    );
    await expect.poll(() => widest.modes.map((message) => message.type)).toEqual(['registered']);
    widest.transport.close();
  });
});
