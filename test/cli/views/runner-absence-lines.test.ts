import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiJob, ApiRunDetail } from '../../../src/cli/run-answer.js';
import { readRunnerAbsence } from '../../../src/cli/runner-absence-answer.js';
import { colors } from '../../../src/cli/views/format.js';
import { runDetailLines } from '../../../src/cli/views/run-detail.js';

const now = Date.parse('2031-05-01T12:00:00Z');

const runningJob = (more: Partial<ApiJob> = {}): ApiJob => ({
  id: '1.1',
  key: 'build',
  name: 'build',
  status: 'running',
  attempt: 1,
  startedAt: now - 12_000,
  runner: { id: '3f9a0c1d2e4b', name: 'r1' },
  staleWrites: [],
  ...more,
});

const runOf = (job: ApiJob): ApiRunDetail => ({
  id: '1',
  runNumber: 1,
  workflowName: 'ci',
  status: 'running',
  attempt: 1,
  createdAt: now - 13_000,
  startedAt: now - 13_000,
  jobs: [job],
});

const shown = (job: ApiJob) => runDetailLines(runOf(job), colors(false)).slice(1);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
});

afterEach(() => {
  vi.useRealTimers();
});

/**
 * A job whose runner died mid-job stays `running` until its held lease expires (up to a minute):
 * `valkyrie show --server` once printed it `running on runner r1` as if all were well meanwhile.
 */
/**
 * The lease's end is ISO 8601 in UTC, as `show`'s other times: it was once the machine locale's
 * wall-clock time (`12:00:40 PM`) among ISO dates and durations.
 */
describe("show's line for a running job whose runner is not connected", () => {
  it('says since when the runner is gone, and when and how the job ends unless it is back', () => {
    const expires = now + 40_000;
    const absent = (atExpiry: 'requeue' | 'fail' | 'cancel') =>
      shown(runningJob({ runnerDisconnected: { since: now - 8_000, leaseExpiresAt: expires, atExpiry } }));
    expect(absent('requeue')).toEqual([
      '  ● running   build on runner r1 (3f9a0c1d2e4b)',
      `    runner disconnected 8.0s ago; the job is requeued if it is not back by 2031-05-01T12:00:40Z`,
    ]);
    expect(absent('fail')[1]).toBe(
      `    runner disconnected 8.0s ago; the job fails as runner_lost if it is not back by 2031-05-01T12:00:40Z`,
    );
    expect(absent('cancel')[1]).toBe(
      `    runner disconnected 8.0s ago; the job ends cancelled if it is not back by 2031-05-01T12:00:40Z`,
    );
  });

  it('says no more than it was told: no lease end, or no time of leaving', () => {
    const expires = now + 40_000;
    expect(shown(runningJob({ runnerDisconnected: { since: now - 8_000 } }))[1]).toBe(
      '    runner disconnected 8.0s ago',
    );
    expect(
      shown(runningJob({ runnerDisconnected: { leaseExpiresAt: expires, atExpiry: 'requeue' } }))[1],
    ).toBe(
      `    runner not connected to the server; the job is requeued if it is not back by 2031-05-01T12:00:40Z`,
    );
    // Read between the lease's expiry and the server acting on it.
    expect(
      shown(
        runningJob({
          runnerDisconnected: { since: now - 61_000, leaseExpiresAt: now - 500, atExpiry: 'requeue' },
        }),
      )[1],
    ).toBe(
      `    runner disconnected 1m1s ago; its lease expired at 2031-05-01T11:59:59Z: the job is requeued`,
    );
  });

  it('prints nothing more for a job whose runner is connected, as a local run has none', () => {
    expect(shown(runningJob())).toEqual(['  ● running   build on runner r1 (3f9a0c1d2e4b)']);
  });

  it("reads a server's field keeping a lease end only with what happens then", () => {
    expect(
      readRunnerAbsence({ runnerDisconnected: { since: 1, leaseExpiresAt: 2, atExpiry: 'requeue' } }),
    ).toEqual({ runnerDisconnected: { since: 1, leaseExpiresAt: 2, atExpiry: 'requeue' } });
    expect(
      readRunnerAbsence({ runnerDisconnected: { since: 1, leaseExpiresAt: 2, atExpiry: 'later' } }),
    ).toEqual({
      runnerDisconnected: { since: 1 },
    });
    expect(readRunnerAbsence({ runnerDisconnected: 'yes' })).toEqual({});
    expect(readRunnerAbsence({})).toEqual({});
  });
});
