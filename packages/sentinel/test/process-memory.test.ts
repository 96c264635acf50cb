import { describe, expect, it } from "vitest";
import { MEMORY_METRIC, processMemoryFamily } from "../src/metrics/process-memory.js";
import { makeSentinel } from "./test-node.js";

describe("process memory (fame_sentinel_memory_bytes)", () => {
  it("reports each area of process.memoryUsage() as a labelled gauge", () => {
    const f = processMemoryFamily({
      rss: 5000,
      heapTotal: 4000,
      heapUsed: 3000,
      external: 200,
      arrayBuffers: 100,
    });
    expect(f).toMatchObject({ name: MEMORY_METRIC, type: "gauge" });
    const by = Object.fromEntries(f.samples.map((s) => [s.labels?.["area"], s.value]));
    expect(by).toEqual({ rss: 5000, heap_total: 4000, heap_used: 3000, external: 200, array_buffers: 100 });
  });

  it("is on the sentinel's /metrics page with the process's own resident set", () => {
    const sentinel = makeSentinel("overlay");
    const text = sentinel.metricsText();
    const rss = /^fame_sentinel_memory_bytes\{area="rss"\} (\d+)$/m.exec(text);
    expect(rss).not.toBeNull();
    expect(Number(rss?.[1])).toBeGreaterThan(1024 * 1024);
    expect(text).toContain("# TYPE fame_sentinel_memory_bytes gauge");
  });
});
