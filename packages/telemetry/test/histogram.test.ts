import { describe, expect, it } from "vitest";
import { Histogram, histogramFamily, LabeledHistograms } from "../src/histogram.js";
import { renderPrometheus } from "../src/prometheus.js";

describe("Histogram", () => {
  it("counts each value in the first bucket whose bound is not below it", () => {
    const h = new Histogram([0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 1, 3]) h.observe(v);
    const snap = h.snapshot();
    expect(snap.cumulative).toEqual([2, 4, 5]);
    expect(snap.count).toBe(5);
    expect(snap.sum).toBeCloseTo(4.65);
  });

  it("ignores NaN and refuses bad bounds", () => {
    const h = new Histogram([1]);
    h.observe(Number.NaN);
    expect(h.count).toBe(0);
    expect(() => new Histogram([])).toThrow(RangeError);
    expect(() => new Histogram([1, 1])).toThrow(RangeError);
    expect(() => new Histogram([2, 1])).toThrow(RangeError);
    expect(() => new Histogram([Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });

  it("renders as Prometheus text with _bucket, _sum and _count", () => {
    const h = new Histogram([0.5, 1]);
    h.observe(0.25);
    h.observe(2);
    const text = renderPrometheus([histogramFamily("x_seconds", "X.", h, { pool: "p" })]);
    expect(text).toBe(
      [
        "# HELP x_seconds X.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{pool="p",le="0.5"} 1',
        'x_seconds_bucket{pool="p",le="1"} 1',
        'x_seconds_bucket{pool="p",le="+Inf"} 2',
        'x_seconds_sum{pool="p"} 2.25',
        'x_seconds_count{pool="p"} 2',
        "",
      ].join("\n"),
    );
  });
});

describe("LabeledHistograms", () => {
  it("keeps one series per label value, escaped when rendered", () => {
    const set = new LabeledHistograms("operation", { bounds: [1] });
    set.for("add").observe(0.5);
    set.for('we"ird').observe(2);
    const text = renderPrometheus([set.family("serve_seconds", "Serve time.")]);
    expect(text).toContain('serve_seconds_count{operation="add"} 1');
    expect(text).toContain('serve_seconds_bucket{operation="we\\"ird",le="+Inf"} 1');
  });

  it("caps the number of series: later values share one overflow series", () => {
    const set = new LabeledHistograms("operation", { maxSeries: 2, bounds: [1] });
    set.for("a").observe(1);
    set.for("b").observe(1);
    set.for("c").observe(1);
    set.for("d").observe(1);
    expect(set.size).toBe(3);
    expect(set.for("zzz")).toBe(set.for(LabeledHistograms.OVERFLOW));
    expect(set.for(LabeledHistograms.OVERFLOW).count).toBe(2);
  });
});
