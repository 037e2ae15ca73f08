import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEvent } from '../engine/events.js';
import type { RunnerView } from '../engine/runner-view.js';
import type { RunStore } from '../store/runs.js';
import { EventHistogram } from './event-histogram.js';
import { EventLoopDelayGauges, eventLoopDelayMetricNames } from './event-loop-delay.js';

/** What the gauges read at each scrape: nothing is counted twice or kept beside the engine's own state. */
export interface MetricSources {
  /** The runners connected to this replica (ControlPlane.runners). */
  runners(): readonly RunnerView[];
  /** The fleet's queued and running jobs, from the store every replica shares. */
  readonly runs: Pick<RunStore, 'countUnfinishedJobs'>;
  /** Runs this replica drives, and its open event streams. */
  readonly driven: { readonly size: number };
  readonly streams: { readonly size: number };
}

/** Seconds, from a job that waits a few milliseconds to a nightly build of hours. */
const durationBuckets = [0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 14_400];
const requestBuckets = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10];
/** Waiting jobs tracked for the queue-wait histogram: twice the default queue capacity. */
export const maxWaiting = 20_000;
/** Forgotten at once when there are more (ServerMetrics.#forgetOldest). */
const forgottenTogether = maxWaiting / 20;

/**
 * The server's Prometheus metrics (`GET /metrics`): counters and histograms of runs and jobs fed by
 * the control plane's events, gauges read at scrape time, the HTTP API's requests, and Node's process
 * metrics (`process_*`, `nodejs_*`, unprefixed, as dashboards for any Node service expect them). A
 * registry of its own per server, so that several servers in one process (tests) do not collide.
 * Counters count what this replica drove; a fleet of replicas is summed in the query, as usual.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #eventLoopDelay: EventLoopDelayGauges;
  readonly #runsStarted: Counter;
  readonly #runsCompleted: Counter<'status'>;
  readonly #runDuration: Histogram<'status'>;
  /** Jobs ended since the last scrape, by status: added to the counter when it is read. */
  readonly #jobsCompletedSince = new Map<string, number>();
  readonly #jobDuration: EventHistogram;
  readonly #jobRetries: Counter;
  readonly #queueWait: EventHistogram;
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #requestDuration: Histogram<'method' | 'route'>;
  /**
   * When each job became ready to start (queued, and past its not-before), until it starts or ends.
   * A run this replica gives up (taken over, a failed write) announces nothing more of its jobs: their
   * entries would stay, so the oldest go past `maxWaiting`.
   */
  readonly #readyAt = new Map<string, number>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    // prom-client's own event-loop delay figures report the sampling interval as delay: they are
    // replaced (event-loop-delay.ts), and its sampling timer, which it never stops, wakes once an hour.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 3_600_000 });
    for (const name of eventLoopDelayMetricNames) this.registry.removeSingleMetric(name);
    this.#eventLoopDelay = new EventLoopDelayGauges(this.registry);
    this.#runsStarted = new Counter({
      name: 'valkyrie_runs_started_total',
      help: 'Runs this replica began driving (new ones once they have their concurrency slot, re-runs, takeovers)',
      registers,
    });
    this.#runsCompleted = new Counter({
      name: 'valkyrie_runs_completed_total',
      help: 'Runs ended, by status',
      labelNames: ['status'],
      registers,
    });
    this.#runDuration = new Histogram({
      name: 'valkyrie_run_duration_seconds',
      help: 'Wall time of ended runs, by status',
      labelNames: ['status'],
      buckets: durationBuckets,
      registers,
    });
    // The job metrics take two observations and a count a job: kept in plain numbers (event-histogram.ts).
    const completedSince = this.#jobsCompletedSince;
    new Counter({
      name: 'valkyrie_jobs_completed_total',
      help: 'Jobs ended, by status (a retried job counts once, with its last attempt)',
      labelNames: ['status'],
      registers,
      collect() {
        for (const [status, count] of completedSince) this.inc({ status }, count);
        completedSince.clear();
      },
    });
    this.#jobDuration = new EventHistogram(
      'valkyrie_job_duration_seconds',
      'Duration of the attempt that ended each job, by status',
      durationBuckets,
      'status',
      registers,
    );
    this.#jobRetries = new Counter({
      name: 'valkyrie_job_retries_total',
      help: 'Job attempts followed by another: a failure retry: retries, or a requeue after a lost runner or driver',
      registers,
    });
    this.#queueWait = new EventHistogram(
      'valkyrie_job_queue_wait_seconds',
      'From a job being ready to start (queued, past its not-before) to a runner starting it',
      durationBuckets,
      undefined,
      registers,
    );
    this.#requests = new Counter({
      name: 'valkyrie_http_requests_total',
      help: 'HTTP API requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: 'valkyrie_http_request_duration_seconds',
      help: 'Time to answer HTTP API requests (a stream counts until it ends), by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: requestBuckets,
      registers,
    });
    gaugesOf(sources, registers);
  }

  /** A control plane event listener (ControlPlane.onEvent). */
  readonly observe = (event: RunEvent): void => {
    switch (event.type) {
      case 'run.started':
        this.#runsStarted.inc();
        return;
      case 'run.completed':
        this.#runsCompleted.inc({ status: event.status });
        this.#runDuration.observe({ status: event.status }, event.durationMs / 1000);
        return;
      case 'job.queued':
        this.#readyAt.delete(event.jobId);
        this.#readyAt.set(event.jobId, Math.max(event.at, event.notBefore ?? 0));
        if (this.#readyAt.size > maxWaiting) this.#forgetOldest(forgottenTogether);
        return;
      case 'job.started': {
        const readyAt = this.#readyAt.get(event.jobId);
        this.#readyAt.delete(event.jobId);
        if (readyAt !== undefined) this.#queueWait.observe(Math.max(0, event.at - readyAt) / 1000);
        return;
      }
      case 'job.retrying':
        this.#jobRetries.inc();
        return;
      case 'job.completed':
        this.#readyAt.delete(event.jobId);
        this.#jobsCompletedSince.set(event.status, (this.#jobsCompletedSince.get(event.status) ?? 0) + 1);
        this.#jobDuration.observe(event.durationMs / 1000, event.status);
        return;
    }
  };

  /**
   * Forgets the `count` oldest waiting jobs in one walk: a Map's deleted entries stay as holes at the
   * front of its table until it is rehashed, and each new walk steps over all of them, so forgetting
   * one at a time cost 7–12 µs a job.queued once past maxWaiting, in batches 0.5–0.8 µs (100,000 in a row).
   */
  #forgetOldest(count: number): void {
    let left = count;
    for (const jobId of this.#readyAt.keys()) {
      this.#readyAt.delete(jobId);
      if (--left === 0) return;
    }
  }

  /** An answered HTTP request; `route` is the matched pattern (`/api/v1/runs/:id`), never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status: String(status) });
    this.#requestDuration.observe({ method, route }, seconds);
  }

  /** Stops sampling the event loop: the server has closed. */
  close(): void {
    this.#eventLoopDelay.close();
  }
}

/** Gauges set from `sources` when scraped. */
function gaugesOf(sources: MetricSources, registers: Registry[]): void {
  const runners = new Gauge({
    name: 'valkyrie_runners_connected',
    help: 'Runners connected to this replica, by mode (online, draining, maintenance)',
    labelNames: ['mode'],
    registers,
    collect() {
      runners.reset();
      for (const view of sources.runners()) if (view.connected) runners.inc({ mode: view.mode });
    },
  });
  const slots = new Gauge({
    name: 'valkyrie_runner_slots',
    help: 'Job slots of the runners connected to this replica, busy or free',
    labelNames: ['state'],
    registers,
    collect() {
      let busy = 0;
      let free = 0;
      for (const view of sources.runners()) {
        if (!view.connected) continue;
        busy += view.running;
        free += Math.max(0, view.capacity - view.running);
      }
      slots.set({ state: 'busy' }, busy);
      slots.set({ state: 'free' }, free);
    },
  });
  const unfinished = new Gauge({
    name: 'valkyrie_jobs_unfinished',
    help: 'Jobs queued or running in the whole fleet (what --queue-capacity limits)',
    registers,
    async collect() {
      unfinished.set(await sources.runs.countUnfinishedJobs());
    },
  });
  const driven = new Gauge({
    name: 'valkyrie_runs_driven',
    help: 'Unfinished runs this replica drives',
    registers,
    collect() {
      driven.set(sources.driven.size);
    },
  });
  const streams = new Gauge({
    name: 'valkyrie_event_streams_open',
    help: 'Open Server-Sent Event streams (run events, followed logs)',
    registers,
    collect() {
      streams.set(sources.streams.size);
    },
  });
}
