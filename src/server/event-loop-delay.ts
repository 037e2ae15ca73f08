import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * How often the delay is sampled. prom-client's default of 10 ms woke an idle server 100 times a
 * second; 100 ms still catches a stall of the loop long enough to matter.
 */
export const eventLoopSampleMs = 100;
const sampleNs = eventLoopSampleMs * 1e6;

/** prom-client's names for the figures of Node's event-loop delay histogram, as Node dashboards read them. */
const figures = [
  ['min', 'The minimum recorded event loop delay.'],
  ['max', 'The maximum recorded event loop delay.'],
  ['mean', 'The mean of the recorded event loop delays.'],
  ['stddev', 'The standard deviation of the recorded event loop delays.'],
  ['p50', 'The 50th percentile of the recorded event loop delays.'],
  ['p90', 'The 90th percentile of the recorded event loop delays.'],
  ['p99', 'The 99th percentile of the recorded event loop delays.'],
] as const;

type Figure = (typeof figures)[number][0];

export const eventLoopDelayMetricNames: readonly string[] = figures.map(([figure]) => metricName(figure));

function metricName(figure: Figure): string {
  return `nodejs_eventloop_lag_${figure}_seconds`;
}

/**
 * The event-loop delay gauges under prom-client's names, since the scrape before. Node's histogram
 * records the time between two wake-ups of its sampling timer, that is the interval plus the delay, and
 * prom-client reports that as it is: an idle server showed a p99 "lag" of 100 ms, the interval itself,
 * and an alert on it would never clear (prometheus/client_js#370). Here the interval is taken off.
 */
export class EventLoopDelayGauges {
  readonly #histogram = monitorEventLoopDelay({ resolution: eventLoopSampleMs });

  constructor(registry: Registry) {
    this.#histogram.enable();
    const histogram = this.#histogram;
    const values: Record<Figure, () => number> = {
      min: () => histogram.min,
      max: () => histogram.max,
      mean: () => histogram.mean,
      stddev: () => histogram.stddev,
      p50: () => histogram.percentile(50),
      p90: () => histogram.percentile(90),
      p99: () => histogram.percentile(99),
    };
    // The figures are read together, in registration order; the last one starts the next window.
    const last = figures[figures.length - 1]?.[0];
    for (const [figure, help] of figures)
      new Gauge({
        name: metricName(figure),
        help,
        registers: [registry],
        collect() {
          // No sample yet (a scrape right after the last): Node reports min as 2^63, the rest as NaN.
          if (histogram.count === 0) this.set(0);
          else if (figure === 'stddev') this.set(histogram.stddev / 1e9);
          else this.set(Math.max(0, values[figure]() - sampleNs) / 1e9);
          if (figure === last) histogram.reset();
        },
      });
  }

  close(): void {
    this.#histogram.disable();
  }
}
