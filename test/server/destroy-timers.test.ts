import { expect, it } from 'vitest';
import { type Clock, systemClock, type TimerHandle } from '../../src/core/clock.js';
import { connectScriptedRunner, credential, jobCompleted, startTestServer } from './helpers.js';

/** The system clock, counting the timers set through it to keep the process alive that are still armed. */
function countingClock(): { clock: Clock; keptAlive: () => number } {
  const armed = new Set<TimerHandle>();
  const clock: Clock = {
    now: () => systemClock.now(),
    setTimer(callback, delayMs, options) {
      const handle: TimerHandle = systemClock.setTimer(
        () => {
          armed.delete(handle);
          callback();
        },
        delayMs,
        options,
      );
      if (options?.keepAlive !== true) return handle;
      armed.add(handle);
      return {
        cancel: () => {
          armed.delete(handle);
          handle.cancel();
        },
      };
    },
  };
  return { clock, keptAlive: () => armed.size };
}

const retried = `name: retried
jobs:
  a: { runs-on: linux, retry: { max-attempts: 2, delay: 1h }, steps: [{ run: exit 1 }] }
`;

it('leaves no timer keeping the process alive once destroyed, a retry an hour away included', async () => {
  const { clock, keptAlive } = countingClock();
  const { server, request, token } = await startTestServer({ clock });
  const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
  await request('POST', '/api/v1/runs', { body: { workflow: retried } });
  const [lease] = await runner.leases(1);
  if (!lease) throw new Error('no lease');
  runner.transport.send(jobCompleted(lease, { kind: 'failed', reason: 'exit 1', exitCode: 1 }));
  // The second attempt waits out its delay on a timer that keeps the process alive.
  for (let tries = 0; keptAlive() === 0 && tries < 300; tries++) await new Promise((r) => setTimeout(r, 10));
  expect(keptAlive()).toBe(1);

  await server.destroy();
  expect(keptAlive()).toBe(0);
});
