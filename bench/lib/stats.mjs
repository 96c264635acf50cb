/**
 * Latency samples and their summary. Samples go into a preallocated Float64Array so
 * recording one costs no allocation on the measured path; past capacity, samples
 * are dropped (the count still grows), which only thins the percentile estimate.
 */
export class Samples {
  /** @param {number} capacity */
  constructor(capacity = 2_000_000) {
    this.values = new Float64Array(capacity);
    this.stored = 0;
    this.count = 0;
  }

  /** @param {number} ms */
  add(ms) {
    if (this.stored < this.values.length) this.values[this.stored++] = ms;
    this.count++;
  }

  /** @returns {{ p50: number, p99: number, mean: number, max: number } | null} */
  summary() {
    if (this.stored === 0) return null;
    const sorted = this.values.slice(0, this.stored).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      mean: sum / sorted.length,
      max: sorted[sorted.length - 1],
    };
  }
}

/** nearest-rank percentile of an ascending array */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  return percentile(Float64Array.from(values).sort(), 0.5);
}

/** high-resolution clock in milliseconds */
export const nowMs = () => performance.now();
