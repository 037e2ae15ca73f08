import { describe, expect, it } from 'vitest';
import { maxWaiting, ServerMetrics } from '../../src/server/metrics.js';
import { runningJob, startTestServer, waitForRunStatus } from './helpers.js';

/** The value of one sample line of Prometheus text, e.g. `valkyrie_jobs_completed_total{status="succeeded"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('takes an API token: none is 401, a read token reads Prometheus text', async () => {
    const live = await startTestServer();
    expect((await live.request('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await live.request('GET', '/metrics', { token: await live.token('runner') })).status).toBe(403);
    const read = await live.request('GET', '/metrics', { token: await live.token('read') });
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(read.text).toContain('# TYPE valkyrie_jobs_completed_total counter');
    // Node's process metrics, under the names every Node dashboard uses.
    expect(sample(read.text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(read.text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('counts a run and its job through a real runner connection, and reads the gauges at the scrape', async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    const during = (await live.request('GET', '/metrics')).text;
    expect(sample(during, 'valkyrie_runs_started_total')).toBe(1);
    expect(sample(during, 'valkyrie_jobs_unfinished')).toBe(1);
    expect(sample(during, 'valkyrie_runs_driven')).toBe(1);
    expect(sample(during, 'valkyrie_runners_connected{mode="online"}')).toBe(1);
    expect(sample(during, 'valkyrie_runner_slots{state="busy"}')).toBe(1);
    expect(sample(during, 'valkyrie_runner_slots{state="free"}')).toBe(0);
    expect(sample(during, 'valkyrie_job_queue_wait_seconds_count')).toBe(1);

    job.succeed();
    await waitForRunStatus(live.request, job.runId, 'succeeded');
    const after = (await live.request('GET', '/metrics')).text;
    expect(sample(after, 'valkyrie_runs_completed_total{status="succeeded"}')).toBe(1);
    expect(sample(after, 'valkyrie_run_duration_seconds_count{status="succeeded"}')).toBe(1);
    expect(sample(after, 'valkyrie_jobs_completed_total{status="succeeded"}')).toBe(1);
    expect(sample(after, 'valkyrie_job_duration_seconds_count{status="succeeded"}')).toBe(1);
    expect(sample(after, 'valkyrie_jobs_unfinished')).toBe(0);
    expect(sample(after, 'valkyrie_runs_driven')).toBe(0);
    expect(sample(after, 'valkyrie_runner_slots{state="busy"}')).toBe(0);
    // Requests by route pattern, never by raw URL (one series for every run id).
    expect(
      sample(after, 'valkyrie_http_requests_total{method="POST",route="/api/v1/runs",status="201"}'),
    ).toBe(1);
    expect(
      sample(after, 'valkyrie_http_requests_total{method="GET",route="/api/v1/runs/:id",status="200"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain(`route="/api/v1/runs/${job.runId}"`);
  });
});

describe('ServerMetrics', () => {
  it('tracks at most maxWaiting waiting jobs: those of runs given up here announce nothing more', async () => {
    const metrics = new ServerMetrics({
      runners: () => [],
      runs: { countUnfinishedJobs: async () => 0 },
      driven: new Set(),
      streams: new Set(),
    });
    for (let i = 0; i <= maxWaiting; i++)
      metrics.observe({ type: 'job.queued', jobId: `j${i}`, name: 'j', at: 0 });
    // The oldest was forgotten; the newest still is timed.
    metrics.observe({ type: 'job.started', jobId: 'j0', name: 'j', at: 1_000 });
    metrics.observe({ type: 'job.started', jobId: `j${maxWaiting}`, name: 'j', at: 2_000 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'valkyrie_job_queue_wait_seconds_count')).toBe(1);
    expect(sample(text, 'valkyrie_job_queue_wait_seconds_sum')).toBe(2);
  });

  describe('event-loop delay', () => {
    const idleMetrics = () =>
      new ServerMetrics({
        runners: () => [],
        runs: { countUnfinishedJobs: async () => 0 },
        driven: new Set(),
        streams: new Set(),
      });
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    it("reports the loop's delay, not the sampling interval: an idle loop is near 0 s", async () => {
      const metrics = idleMetrics();
      try {
        await pause(650);
        const text = await metrics.registry.metrics();
        // prom-client reported the 100 ms interval itself (0.1 s) for an idle loop.
        for (const figure of ['min', 'mean', 'p50'])
          expect(sample(text, `nodejs_eventloop_lag_${figure}_seconds`)).toBeLessThan(0.05);
        expect(sample(text, 'nodejs_eventloop_lag_min_seconds')).toBeGreaterThanOrEqual(0);
        expect(text.match(/^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/gm)).toHaveLength(1);
      } finally {
        metrics.close();
      }
    });

    it('shows a stall of the loop in max, and starts a new window at each scrape', async () => {
      const metrics = idleMetrics();
      try {
        await pause(150);
        const stalled = Date.now();
        while (Date.now() - stalled < 300);
        await pause(150);
        expect(sample(await metrics.registry.metrics(), 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(
          0.2,
        );
        await pause(350);
        expect(sample(await metrics.registry.metrics(), 'nodejs_eventloop_lag_max_seconds')).toBeLessThan(
          0.2,
        );
      } finally {
        metrics.close();
      }
    });
  });
});
