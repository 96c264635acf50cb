import {
  escapeLabelValue,
  type PoolDistribution,
  renderPrometheus,
  sentinelMetricFamilies,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";

describe("Prometheus text format", () => {
  it("writes HELP, TYPE and samples with escaped label values", () => {
    const text = renderPrometheus([
      {
        name: "fame_x_total",
        help: "Things\\counted\nhere.",
        type: "counter",
        samples: [
          { labels: { pool: 'a"b', replica: "c\\d\ne" }, value: 3 },
          { value: Number.POSITIVE_INFINITY },
        ],
      },
      { name: "fame_empty", help: "No samples.", type: "gauge", samples: [] },
    ]);
    expect(text).toBe(
      [
        "# HELP fame_x_total Things\\\\counted\\nhere.",
        "# TYPE fame_x_total counter",
        'fame_x_total{pool="a\\"b",replica="c\\\\d\\ne"} 3',
        "fame_x_total +Inf",
        "# HELP fame_empty No samples.",
        "# TYPE fame_empty gauge",
        "",
      ].join("\n"),
    );
    expect(escapeLabelValue("plain")).toBe("plain");
  });

  it("refuses bad names and duplicate families", () => {
    const fam = (name: string, labels?: Record<string, string>) => ({
      name,
      help: "h",
      type: "gauge" as const,
      samples: [{ value: 1, ...(labels ? { labels } : {}) }],
    });
    expect(() => renderPrometheus([fam("bad-name")])).toThrow(RangeError);
    expect(() => renderPrometheus([fam("ok", { "bad-label": "x" })])).toThrow(RangeError);
    expect(() => renderPrometheus([fam("ok", { __reserved: "x" })])).toThrow(RangeError);
    expect(() => renderPrometheus([fam("ok"), fam("ok")])).toThrow(/twice/);
  });

  it("labels per pool and replica, and only shows policy families where they apply", () => {
    const pool = (address: string, policy: Partial<PoolDistribution["policy"]> | null): PoolDistribution => ({
      address,
      policy: policy as PoolDistribution["policy"],
      sessions: 2,
      counters: {
        stickyHits: 5,
        stickyMisses: 2,
        stickyViolations: 1,
        noFreeReplica: 0,
        notActive: 0,
        promotions: 0,
        ejections: 0,
        ended: 1,
        expired: 0,
        evicted: 0,
        orphaned: 0,
      },
      replicas: [
        { id: "r1", requests: 7, sessions: 2, healthy: true, draining: false },
        { id: "r2", requests: 1, sessions: 0, healthy: false, draining: true },
      ],
    });
    const text = renderPrometheus(
      sentinelMetricFamilies({
        connections: 3,
        attachedNodes: 3,
        inflight: 0,
        counters: { routed: 8, replicaUnavailableNacks: 1 },
        distribution: [
          pool("math@fame.fabric", { affinity: "session", exclusive: false }),
          pool("plain@fame.fabric", null),
        ],
      }),
    );
    expect(text).toContain('fame_pool_requests_total{pool="plain@fame.fabric",replica="r1"} 7');
    expect(text).toContain('fame_pool_replica_sessions{pool="math@fame.fabric",replica="r1"} 2');
    expect(text).not.toContain('fame_pool_replica_sessions{pool="plain@fame.fabric"');
    expect(text).toContain('fame_pool_replica_draining{pool="math@fame.fabric",replica="r2"} 1');
    expect(text).toContain('fame_pool_replica_healthy{pool="math@fame.fabric",replica="r2"} 0');
    expect(text).toContain('fame_pool_sessions_ended_total{pool="math@fame.fabric",how="ended"} 1');
    expect(text).toContain('fame_sentinel_events_total{event="replica_unavailable_nacks"} 1');
    expect(text).not.toContain("fame_channel_pins");
  });
});
