import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { StepLaunchSink } from '../../../src/executors/shell/launcher.js';
import {
  Outbox,
  type SpawnerMessage,
  type SpawnerRequest,
} from '../../../src/executors/shell/spawner/protocol.js';
import type { SpawnerKind } from '../../../src/executors/shell/spawner/spawner-kind.js';
import { SpawnerProcess } from '../../../src/executors/shell/spawner/spawner-process.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A spawner kind whose process only sleeps: what SpawnerProcess sends it is recorded in `log`. */
function recordingKind(log: string[]): { kind: SpawnerKind; tell: (messages: SpawnerMessage[]) => void } {
  let deliver: (batch: readonly SpawnerMessage[]) => void = () => {};
  const kind: SpawnerKind = {
    label: 'a recording spawner',
    missing: () => undefined,
    carries: () => true,
    open(onMessages) {
      deliver = onMessages;
      const child = spawn('sleep', ['30'], { stdio: 'ignore' });
      children.push(child);
      return {
        child,
        isOpen: true,
        send: (batch: readonly SpawnerRequest[]) => log.push(`send ${batch.map((r) => r.type).join(',')}`),
        setRef: () => {},
      };
    },
  };
  return { kind, tell: (messages) => deliver(messages) };
}

const sink: StepLaunchSink = {
  spawned: () => {},
  failed: () => {},
  output: () => {},
  exited: () => {},
  drained: () => {},
  lost: () => {},
};

describe("a step's spawn request", () => {
  it('is written at once, ahead of work already queued for the turn, with the requests before it', async () => {
    const log: string[] = [];
    const { kind, tell } = recordingKind(log);
    const spawner = new SpawnerProcess(kind, () => {});
    tell([{ type: 'ready' }]);
    expect(await spawner.whenReady()).toBe(true);

    spawner.adopt(1234);
    // What the turn queued first: in the engine, the control plane's handling of the step's start.
    queueMicrotask(() => log.push('queued work'));
    spawner.launch({ command: 'true', args: [], cwd: '/', env: {} }, sink);
    log.push('launched');
    await Promise.resolve();
    expect(log).toEqual(['send adopt,spawn', 'launched', 'queued work']);
    spawner.kill();
  });
});

describe('Outbox', () => {
  it('sends what is pushed in one turn as one batch, and pushNow at once after what came before it', async () => {
    const sent: string[][] = [];
    const outbox = new Outbox<string>((batch) => sent.push(batch), queueMicrotask);
    outbox.push('a');
    outbox.push('b');
    await Promise.resolve();
    expect(sent).toEqual([['a', 'b']]);
    outbox.push('c');
    outbox.pushNow('d');
    expect(sent).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    outbox.push('e');
    await Promise.resolve();
    await Promise.resolve();
    expect(sent).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });
});
