import { type Aggregator, Histogram, type HistogramConfiguration } from 'prom-client';

/** One label set's observations: how many fell in each bucket (not cumulative), their sum and count. */
interface Tally {
  readonly labels: Partial<Record<string, string>>;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A sample as prom-client's Histogram hands it to the registry: the label set apart from `le`. */
interface Sample {
  readonly labels: Partial<Record<string, string | number>>;
  readonly sharedLabels: Partial<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
  /** Buckets carry an empty exemplar, as prom-client's do without exemplars enabled. */
  readonly exemplar?: null;
}

interface Samples {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly values: Sample[];
  readonly aggregator: Aggregator;
}

/**
 * A prom-client Histogram of at most one label, observed through `tally`, which costs a Map lookup and
 * an array index: prom-client's `observe` validates the labels, builds a key string of them and looks
 * the bucket up by a number-named property at every call (~0.3 µs with a label; a histogram observed
 * for every job costs that 10,000 times in a run of 10,000 jobs). A scrape reads the same samples, in
 * the same order, as prom-client's Histogram gives for the same observations (its registry asks
 * `getForPromString` first; its `get` reads that too). Only `tally` and `reset` are this class's own: the
 * Histogram's other methods (`observe`, `labels`, `zero`, `startTimer`) must not be used on it.
 */
export class TalliedHistogram<T extends string> extends Histogram<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #aggregator: Aggregator;
  readonly #bounds: readonly number[];
  readonly #label: T | undefined;
  readonly #tallies = new Map<string, Tally>();

  constructor(configuration: HistogramConfiguration<T> & { readonly buckets: readonly number[] }) {
    super({ ...configuration, buckets: [...configuration.buckets] });
    const labels = configuration.labelNames ?? [];
    if (labels.length > 1)
      throw new Error(`${configuration.name}: a TalliedHistogram takes at most one label`);
    this.#label = labels[0];
    this.#name = configuration.name;
    this.#help = configuration.help;
    this.#aggregator = configuration.aggregator ?? 'sum';
    this.#bounds = [...configuration.buckets];
    if (this.#label === undefined) this.#tallyOf('');
  }

  /** Observes `value` for the label's value `labelValue` (ignored without a label). */
  tally(labelValue: string, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const tally = this.#tallies.get(labelValue) ?? this.#tallyOf(labelValue);
    const bounds = this.#bounds;
    let at = 0;
    while (at < bounds.length && value > (bounds[at] ?? 0)) at++;
    if (at < bounds.length) tally.counts[at] = (tally.counts[at] ?? 0) + 1;
    tally.sum += value;
    tally.count += 1;
  }

  #tallyOf(labelValue: string): Tally {
    const label = this.#label;
    const labels = label === undefined ? {} : { [label]: labelValue };
    const tally = { labels, counts: this.#bounds.map(() => 0), sum: 0, count: 0 };
    this.#tallies.set(label === undefined ? '' : labelValue, tally);
    return tally;
  }

  override reset(): void {
    // prom-client's constructor resets the metric it makes, before this class's fields exist.
    if (!(#tallies in this)) return;
    this.#tallies.clear();
    if (this.#label === undefined) this.#tallyOf('');
  }

  /** The samples, as prom-client's Histogram builds them; its `get` reads them from here too. */
  async getForPromString(): Promise<Samples> {
    const name = this.#name;
    const bucketName = `${name}_bucket`;
    const values: Sample[] = [];
    for (const { labels, counts, sum, count } of this.#tallies.values()) {
      let below = 0;
      this.#bounds.forEach((bound, i) => {
        below += counts[i] ?? 0;
        values.push({
          labels: { le: bound },
          sharedLabels: labels,
          value: below,
          metricName: bucketName,
          exemplar: null,
        });
      });
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: labels,
          value: count,
          metricName: bucketName,
          exemplar: null,
        },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${name}_count` },
      );
    }
    return { name, help: this.#help, type: 'histogram', values, aggregator: this.#aggregator };
  }
}
