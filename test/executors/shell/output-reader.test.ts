import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { drainGraceMs, OutputReader } from '../../../src/executors/shell/spawner/process-launch.js';
import type { LaunchSink } from '../../../src/executors/shell/spawner/protocol.js';

type FakeChild = ChildProcess & { readonly stdout: PassThrough; readonly stderr: PassThrough };

/** A child process as OutputReader uses one: its exit event and two output streams, nothing else. */
function fakeChild(): FakeChild {
  const child = Object.assign(new EventEmitter(), { stdout: new PassThrough(), stderr: new PassThrough() });
  return child as unknown as FakeChild;
}

function recordingSink(): LaunchSink & { readonly calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    spawned: (pid) => calls.push(`spawned ${pid}`),
    failed: (code) => calls.push(`failed ${code}`),
    output: (stream, data) => calls.push(`${stream} ${data.toString()}`),
    exited: (code) => calls.push(`exited ${code}`),
    drained: () => calls.push('drained'),
  };
}

function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // A synchronous write to a full stdout pipe holds the loop like this.
  }
}

it('reads what is in the pipe when the loop comes back after the drain grace, before giving the streams up', async () => {
  const child = fakeChild();
  const sink = recordingSink();
  new OutputReader(child, sink);
  child.emit('exit', 0, null);
  // The loop is held past the grace; when it runs again, its due timers come first (the grace's, then
  // this one, which stands for the I/O poll of the same turn: the pipe's data is read only then).
  setTimeout(() => child.stdout.write('written before the exit\n'), drainGraceMs);
  blockEventLoop(drainGraceMs + 100);
  await new Promise((resolve) => setTimeout(resolve, drainGraceMs + 100));
  expect(sink.calls).toEqual(['exited 0', 'stdout written before the exit\n', 'drained']);
  expect(child.stdout.destroyed).toBe(true);
});

it('gives up streams a background process keeps open once the grace is over', async () => {
  const child = fakeChild();
  const sink = recordingSink();
  new OutputReader(child, sink);
  child.stdout.write('before\n');
  child.emit('exit', 0, null);
  await new Promise((resolve) => setTimeout(resolve, drainGraceMs + 100));
  expect(sink.calls).toEqual(['stdout before\n', 'exited 0', 'drained']);
  expect([child.stdout.destroyed, child.stderr.destroyed]).toEqual([true, true]);
});
