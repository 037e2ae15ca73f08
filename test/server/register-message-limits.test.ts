import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeBatch, encodeFrame } from '../../src/protocol/frame.js';
import type { RunnerInfo } from '../../src/protocol/messages.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import {
  connectScriptedRunner,
  credential,
  runningJob,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

const fine: RunnerInfo = { name: 'build-01', labels: ['self-hosted', 'linux'], capacity: 1 };
const register = (runner: Partial<RunnerInfo>) => ({
  type: 'register',
  version: 1,
  runner: { ...fine, ...runner },
});

/** Registers a runner `valkyrie runner` would refuse to start as (its --labels, --name, --capacity). */
const refused: [Partial<RunnerInfo>, RegExp][] = [
  [{ labels: Array.from({ length: 100_000 }, (_, index) => `l${index}`) }, /^m\.runner\.labels: .*200/],
  [{ labels: Array.from({ length: 201 }, (_, index) => `l${index}`) }, /^m\.runner\.labels: .*200/],
  [{ labels: ['linux', 'a b'] }, /^m\.runner\.labels\.1: .*comma/],
  [{ labels: ['gpu,linux'] }, /^m\.runner\.labels\.0: .*comma/],
  [{ labels: ['x'.repeat(201)] }, /^m\.runner\.labels\.0: .*200/],
  [{ capacity: 1025 }, /^m\.runner\.capacity: .*1024/],
  [{ capacity: 1e9 }, /^m\.runner\.capacity: .*1024/],
  [{ name: 'n'.repeat(101) }, /^m\.runner\.name: .*100/],
  [{ name: '   ' }, /^m\.runner\.name: .*blank/],
];

/** The close of `socket` (its code and reason), or the first message it got instead (`registered`). */
async function firstAnswer(socket: WebSocket): Promise<{ code?: number; reason: string }> {
  return new Promise((resolve) => {
    socket.once('close', (code: number, reason: Buffer) =>
      resolve({ code, reason: reason.toString('utf8') }),
    );
    socket.once('message', (data: Buffer) => {
      resolve({ reason: `not closed; answered ${data.toString('utf8').slice(0, 80)}` });
      socket.close();
    });
  });
}

describe("the protocol's register: labels, name and capacity as `valkyrie runner` takes them", () => {
  it('closes a WebSocket or long-poll session whose register is past them, naming the field; serves the others', async () => {
    const live = await startTestServer();
    const good = await runningJob(live);
    const hostile = await credential(live.request, live.token);
    const ws = `${live.server.url.replace(/^http/, 'ws')}/api/v1/runner/ws`;
    const headers = { authorization: `Bearer ${hostile}` };
    for (const [runner, field] of refused) {
      const socket = new WebSocket(ws, { headers });
      await once(socket, 'open');
      socket.send(encodeFrame(register(runner)));
      const answer = await firstAnswer(socket);
      expect(answer).toMatchObject({
        code: closeCodes.protocol,
        reason: expect.stringMatching(/^VK_PROTOCOL: /),
      });
      expect(answer.reason.replace(/^VK_PROTOCOL: /, '')).toMatch(field);
    }

    const poll = `${live.server.url}/api/v1/runner/poll`;
    for (const [runner, field] of refused) {
      const opened = await fetch(`${poll}/sessions`, { method: 'POST', headers });
      const { sessionId } = (await opened.json()) as { sessionId: string };
      const posted = await fetch(`${poll}/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: encodeBatch(1, [register(runner)]),
      });
      expect(posted.status).toBe(400);
      const body = (await posted.json()) as { code: string; message: string };
      expect(body.code).toBe('VK_PROTOCOL');
      expect(body.message.replace(/^messages\[0\]\./, 'm.')).toMatch(field);
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
