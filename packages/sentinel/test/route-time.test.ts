import { describe, expect, it } from "vitest";
import {
  newRouteTimeHistogram,
  nextRouteSampleGap,
  ROUTE_SAMPLE_EVERY,
  ROUTE_SECONDS_BUCKETS,
  routeTimeFamily,
} from "../src/metrics/route-time.js";
import { attachNode, makeSentinel } from "./test-node.js";

describe("route-time histogram (fame_sentinel_route_seconds)", () => {
  it("has ascending buckets from microseconds to a stalled event loop", () => {
    expect(ROUTE_SECONDS_BUCKETS[0]).toBeLessThanOrEqual(0.00001);
    expect(ROUTE_SECONDS_BUCKETS.at(-1)).toBeGreaterThanOrEqual(0.1);
    const h = newRouteTimeHistogram();
    h.observe(0.00003);
    h.observe(2);
    const f = routeTimeFamily(h);
    expect(f.type).toBe("histogram");
    const le = (v: string) => f.samples.find((s) => s.suffix === "_bucket" && s.labels?.["le"] === v);
    expect(le("0.000025")?.value).toBe(0);
    expect(le("0.00005")?.value).toBe(1);
    expect(le("+Inf")?.value).toBe(2);
  });

  it("draws sampling gaps of mean ROUTE_SAMPLE_EVERY, never 0 and never above 2N-1", () => {
    let sum = 0;
    for (let i = 0; i < 20_000; i++) {
      const g = nextRouteSampleGap();
      expect(g).toBeGreaterThanOrEqual(1);
      expect(g).toBeLessThanOrEqual(2 * ROUTE_SAMPLE_EVERY - 1);
      sum += g;
    }
    expect(sum / 20_000).toBeGreaterThan(ROUTE_SAMPLE_EVERY * 0.9);
    expect(sum / 20_000).toBeLessThan(ROUTE_SAMPLE_EVERY * 1.1);
  });

  it("times a sample of the frames the sentinel receives and renders in /metrics", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const before = s.routeTime.count;
    // notes without a reply address: nothing is tracked, so the in-flight cap never refuses one
    const frames = 40 * ROUTE_SAMPLE_EVERY;
    for (let i = 0; i < frames; i++) {
      await c.send({ to: "math@fame.fabric", frame: { type: "Data", codec: "json", payload: { i } } });
    }
    expect(r.link.frames("Data")).toHaveLength(frames);
    // gaps are at most 2N-1 frames: at least this many of them were timed, and never all
    const timed = s.routeTime.count - before;
    expect(timed).toBeGreaterThanOrEqual(Math.floor(frames / (2 * ROUTE_SAMPLE_EVERY - 1)));
    expect(timed).toBeLessThan(frames);
    expect(s.routeTime.sum).toBeGreaterThan(0);
    const text = s.metricsText();
    expect(text).toContain("# TYPE fame_sentinel_route_seconds histogram");
    expect(text).toMatch(new RegExp(`^fame_sentinel_route_seconds_count ${s.routeTime.count}$`, "m"));
    expect(text).toMatch(/^fame_sentinel_route_seconds_bucket\{le="\+Inf"\} \d+$/m);
  });
});
