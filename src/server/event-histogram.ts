import type { Histogram, Registry } from 'prom-client';

/** One label value's observations: per bucket (not cumulative; the last is above every bound), sum, count. */
interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A sample of prom-client's get(): the registry prints `metricName{labels,sharedLabels} value`. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * A Prometheus histogram of at most one label, for the observations the control plane's events make
 * (a job's queue wait and duration, two a job): an observation is a bucket found and three additions,
 * where prom-client's Histogram.observe made, checked and hashed a labels object each time: with the
 * jobs_completed counter's inc, about 22k instructions of the server's main thread a job (12%) through
 * the fleet bench's control plane on SQLite, more on other threads (callgrind). Its registry reads it
 * as it reads prom-client's own metrics (registry.js: get() at each scrape, reset() from
 * resetMetrics), and prints the same text as a prom-client Histogram with the same name, help, label
 * and buckets fed the same values.
 */
export class EventHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  /** `labelName`: none for an unlabelled histogram, which shows zeros before its first observation. */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    private readonly labelName?: string,
    registers: readonly Registry[] = [],
  ) {
    if (labelName === undefined) this.#series.set('', this.newSeries(''));
    // The registry takes any metric that has get(), reset(), name, help, type and aggregator.
    for (const registry of registers) registry.registerMetric(this as unknown as Histogram);
  }

  /** `labelValue`: the label's value; ignored when the histogram has no label. */
  observe(value: number, labelValue = ''): void {
    // As prom-client: a value with no number to add is refused (it would make the sum NaN).
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const key = this.labelName === undefined ? '' : labelValue;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = this.newSeries(key);
      this.#series.set(key, series);
    }
    const { buckets } = this;
    let bucket = 0;
    while (bucket < buckets.length && value > (buckets[bucket] ?? 0)) bucket++;
    series.counts[bucket] = (series.counts[bucket] ?? 0) + 1;
    series.sum += value;
    series.count++;
  }

  /** As prom-client's: every series goes, an unlabelled one's zeros too, until the next observation. */
  reset(): void {
    this.#series.clear();
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Sample[];
  }> {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      for (const [i, bound] of this.buckets.entries()) {
        cumulative += counts[i] ?? 0;
        values.push({
          metricName: bucketName,
          labels: { le: bound },
          sharedLabels: labels,
          value: cumulative,
        });
      }
      values.push({ metricName: bucketName, labels: { le: '+Inf' }, sharedLabels: labels, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: labels, value: count });
    }
    const { name, help, type, aggregator } = this;
    return { name, help, type, aggregator, values };
  }

  private newSeries(labelValue: string): Series {
    const labels = this.labelName === undefined ? {} : { [this.labelName]: labelValue };
    return { labels, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
}
