import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import {
  type Fleet,
  lines,
  registrationRoute,
  runRequest,
  sideEffectWorkflow,
  startFleet,
  until,
} from '../runner/fleet-harness.js';
import { collect, Workspace } from './cli.js';

/**
 * The leases the control plane sends its runners, held back until `release()`: the test decides how
 * long a runner stays between its accept and the job's lease. Everything else passes at once.
 */
class LeaseHold {
  private readonly held: (() => void)[] = [];

  get count(): number {
    return this.held.length;
  }

  connection = (
    transport: Transport<ControlMessage, RunnerMessage>,
  ): Transport<ControlMessage, RunnerMessage> => ({
    send: (message) => {
      if (message.type === 'lease') this.held.push(() => transport.send(message));
      else transport.send(message);
    },
    onMessage: (listener) => transport.onMessage(listener),
    onClose: (listener) => transport.onClose(listener),
    close: (reason) => transport.close(reason),
    reject: (error) => transport.reject(error),
  });

  release(): void {
    for (const send of this.held.splice(0)) send();
  }
}

/** What `valkyrie runner` says as its first SIGTERM comes, in each state it may be in. */
describe('valkyrie runner, its drain line', () => {
  const ws = new Workspace();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function startRunner(f: Fleet) {
    const child = ws.start([
      'runner',
      ...['--server', f.url, '--token', 'reg-ok', '--work-dir', join(ws.dir, 'work')],
      ...['--labels', 'x', '--protocol', 'ws'],
    ]);
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    return { child, done: collect(child), stdout: () => stdout };
  }

  it('says it waits for the job it accepted when the signal comes before that job has its lease', async () => {
    const hold = new LeaseHold();
    const f = await startFleet({ leaseTtlMs: 5_000 }, registrationRoute, hold.connection);
    cleanups.push(() => f.close());
    const runner = startRunner(f);
    await until(() => runner.stdout().includes('connected to'), 'the runner to connect');
    const run = await f.plane.startRun(sideEffectWorkflow(f.dir, 1, 0), runRequest(f.dir));
    // The plane sends the lease once it has the runner's accept: the runner has accepted, no job runs.
    await until(() => hold.count === 1, 'the runner to accept the offer');
    runner.child.kill('SIGTERM');
    await until(() => runner.stdout().includes('draining'), 'the drain line');
    const said = runner
      .stdout()
      .split('\n')
      .find((line) => line.includes('draining'));
    expect(said).toBe(
      'valkyrie runner: draining: no new jobs; waiting up to 5s for the lease of 1 job it accepted ' +
        '(signal again to cancel it)',
    );
    hold.release();
    expect(await run.done).toBe('succeeded');
    const stopped = await runner.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(lines(join(f.dir, 'finished.log'))).toEqual(['job-1']);
  });
});
