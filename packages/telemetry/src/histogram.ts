/**
 * Latency histograms in the Prometheus shape: fixed upper bounds chosen at construction,
 * one counter per bucket, a sum and a count. `observe` is a bounded scan of a small array,
 * so it costs the same on every call and allocates nothing; cumulative counts are only
 * computed when the histogram is rendered.
 */
import type { MetricFamily, MetricSample } from "./prometheus.js";

/** Seconds, from 100 µs (a loopback call) to 10 s (a call near its timeout). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const MAX_BUCKETS = 64;

export interface HistogramSnapshot {
  /** upper bounds, ascending, without +Inf */
  bounds: readonly number[];
  /** cumulative counts per bound, then the +Inf bucket (= count) */
  cumulative: readonly number[];
  sum: number;
  count: number;
}

export class Histogram {
  readonly bounds: readonly number[];
  /** non-cumulative: counts[i] holds values in (bounds[i-1], bounds[i]]; the last slot is +Inf */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    if (bounds.length === 0 || bounds.length > MAX_BUCKETS)
      throw new RangeError(`a histogram needs 1..${MAX_BUCKETS} bounds`);
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i] as number;
      if (!Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))
        throw new RangeError("histogram bounds must be finite and strictly ascending");
    }
    this.bounds = Object.freeze([...bounds]);
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Record one value (seconds for latencies). NaN is ignored: it would poison the sum. */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      running += this.#counts[i] as number;
      cumulative.push(running);
    }
    return { bounds: this.bounds, cumulative, sum: this.#sum, count: this.#count };
  }

  /** The `_bucket`, `_sum` and `_count` samples of this histogram, under `labels`. */
  samples(labels: Readonly<Record<string, string>> = {}): MetricSample[] {
    const snap = this.snapshot();
    const out: MetricSample[] = [];
    for (let i = 0; i < snap.cumulative.length; i++) {
      const le = i < snap.bounds.length ? String(snap.bounds[i]) : "+Inf";
      out.push({ labels: { ...labels, le }, value: snap.cumulative[i] as number, suffix: "_bucket" });
    }
    out.push({ labels, value: snap.sum, suffix: "_sum" });
    out.push({ labels, value: snap.count, suffix: "_count" });
    return out;
  }
}

/**
 * One histogram per value of a label (an operation, a pool). The number of series is
 * capped: label values come from the network or from user code, and a scrape page must not
 * grow without bound, so values past the cap share one `_other` series.
 */
export class LabeledHistograms {
  static readonly OVERFLOW = "_other";
  readonly #byValue = new Map<string, Histogram>();
  readonly #label: string;
  readonly #maxSeries: number;
  readonly #bounds: readonly number[];

  constructor(label: string, options: { maxSeries?: number; bounds?: readonly number[] } = {}) {
    this.#label = label;
    this.#maxSeries = options.maxSeries ?? 256;
    this.#bounds = options.bounds ?? LATENCY_BUCKETS_SECONDS;
    if (!Number.isSafeInteger(this.#maxSeries) || this.#maxSeries < 1)
      throw new RangeError("maxSeries must be a positive integer");
  }

  /** The histogram for `value`; callers on a hot path keep the result rather than look it up per call. */
  for(value: string): Histogram {
    let h = this.#byValue.get(value);
    if (h !== undefined) return h;
    const key = this.#byValue.size < this.#maxSeries ? value : LabeledHistograms.OVERFLOW;
    h = this.#byValue.get(key);
    if (h === undefined) {
      h = new Histogram(this.#bounds);
      this.#byValue.set(key, h);
    }
    return h;
  }

  get size(): number {
    return this.#byValue.size;
  }

  family(name: string, help: string, labels: Readonly<Record<string, string>> = {}): MetricFamily {
    const samples: MetricSample[] = [];
    for (const [value, h] of this.#byValue) samples.push(...h.samples({ ...labels, [this.#label]: value }));
    return { name, help, type: "histogram", samples };
  }
}

/** A single, unlabeled histogram as a metric family. */
export function histogramFamily(
  name: string,
  help: string,
  histogram: Histogram,
  labels: Readonly<Record<string, string>> = {},
): MetricFamily {
  return { name, help, type: "histogram", samples: histogram.samples(labels) };
}
