/**
 * The sentinel process's memory, split the way Node accounts for it, so an operator (and the
 * idle-cost bench) can tell what grows with attached nodes: the JS heap (sessions, maps,
 * `ws` objects), memory outside it that JS objects own (Buffers: socket reads, queued writes),
 * and the rest of the resident set (OpenSSL's per-connection state, libuv, code). Kernel socket
 * buffers are in no process's RSS.
 */
import type { MetricFamily } from "@fame/telemetry";

export const MEMORY_METRIC = "fame_sentinel_memory_bytes";

/** the fields of `process.memoryUsage()` this reads */
export type MemoryReading = Pick<
  NodeJS.MemoryUsage,
  "rss" | "heapTotal" | "heapUsed" | "external" | "arrayBuffers"
>;

export function processMemoryFamily(mem: MemoryReading): MetricFamily {
  return {
    name: MEMORY_METRIC,
    help:
      "Sentinel process memory: rss (resident set), heap_total / heap_used (V8 JS heap), external " +
      "(memory outside the heap owned by JS objects, array_buffers included).",
    type: "gauge",
    samples: [
      { labels: { area: "rss" }, value: mem.rss },
      { labels: { area: "heap_total" }, value: mem.heapTotal },
      { labels: { area: "heap_used" }, value: mem.heapUsed },
      { labels: { area: "external" }, value: mem.external },
      { labels: { area: "array_buffers" }, value: mem.arrayBuffers },
    ],
  };
}
