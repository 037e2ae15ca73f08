import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import { settle } from '../core/manual-clock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An agent on one end of an in-process pair; the test plays the control plane on the other. */
function agentWithPeer() {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-agent-deregister-'));
  dirs.push(dir);
  const [control, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
  const received: RunnerMessage[] = [];
  control.onMessage((message) => received.push(message));
  const agent = new RunnerAgent(runnerEnd, {
    info: { name: 'r', labels: ['x'], capacity: 1 },
    host: { os: 'Linux', arch: 'X64', name: 'r' },
    createExecutor: () => new ShellExecutor(),
    tempRoot: dir,
    baseEnv: { PATH: '/usr/bin:/bin' },
  });
  agent.start();
  return { agent, control, received };
}

describe('RunnerAgent.deregister', () => {
  it('sends deregister after drain and resolves answered when the control plane answers', async () => {
    const { agent, control, received } = agentWithPeer();
    await agent.drain('stopping');
    const answered = agent.deregister('the runner is stopping', 5_000);
    await settle();
    expect(received.map((m) => m.type)).toEqual(['register', 'drain', 'deregister']);
    expect(received[2]).toEqual({ type: 'deregister', reason: 'the runner is stopping' });
    control.send({ type: 'deregistered' });
    expect(await answered).toBe('answered');
  });

  it('resolves unanswered at once when the connection closes first (an older server refuses the message)', async () => {
    const { agent, control } = agentWithPeer();
    const answered = agent.deregister('the runner is stopping', 60_000);
    control.close('VK_PROTOCOL: unknown message type');
    expect(await answered).toBe('unanswered');
  });

  it('resolves unanswered after the timeout when nobody answers', async () => {
    const { agent } = agentWithPeer();
    const started = Date.now();
    expect(await agent.deregister('the runner is stopping', 50)).toBe('unanswered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
