import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { sentinelMetricFamilies } from "../src/metrics/index.js";
import { newRouteTimeHistogram, routeTimeFamily } from "../src/metrics/route-time.js";

const file = (path: string) =>
  readFileSync(fileURLToPath(new URL(`../../../compose/${path}`, import.meta.url)), "utf8");

interface Panel {
  title: string;
  datasource: { uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
}

/** every family the sentinel's /metrics can show (stickiness on), with histogram series names */
function exportedNames(): Set<string> {
  const families = sentinelMetricFamilies({
    connections: 0,
    attachedNodes: 0,
    inflight: 0,
    counters: {},
    distribution: [],
    stickiness: {
      metrics: {
        pinsCreated: 0,
        hits: 0,
        misses: 0,
        refusals: 0,
        verifyFailures: 0,
        evictions: 0,
        expirations: 0,
        orphaned: 0,
        size: 0,
      },
      pinsPerReplica: new Map(),
    },
  });
  families.push(routeTimeFamily(newRouteTimeHistogram()));
  const names = new Set<string>();
  for (const f of families) {
    names.add(f.name);
    if (f.type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(f.name + s);
  }
  return names;
}

describe("the Grafana dashboard in compose/grafana", () => {
  const dashboard = JSON.parse(file("grafana/dashboards/fame-sentinel.json")) as {
    uid: string;
    panels: Panel[];
  };
  const datasourceUid = /uid: (\S+)/.exec(file("grafana/provisioning/datasources/prometheus.yml"))?.[1];

  it("queries only metrics the sentinel exports, through the provisioned data source", () => {
    const names = exportedNames();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe(datasourceUid);
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets) {
        expect(t.datasource.uid).toBe(datasourceUid);
        for (const m of t.expr.match(/\bfame_[a-z_]+/g) ?? []) used.add(m);
      }
    }
    expect([...used].filter((m) => !names.has(m))).toEqual([]);
  });

  it("shows calls/s, refusals by code, pins and route latency p50/p99", () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    expect(exprs).toContain("rate(fame_pool_requests_total");
    expect(exprs).toContain("sum by (code) (rate(fame_sentinel_refusals_total");
    expect(exprs).toContain("fame_channel_pins");
    expect(exprs).toContain("histogram_quantile(0.5, sum by (le) (rate(fame_sentinel_route_seconds_bucket");
    expect(exprs).toContain("histogram_quantile(0.99, sum by (le) (rate(fame_sentinel_route_seconds_bucket");
  });

  it("Prometheus scrapes the sentinel over TLS with the admin token", () => {
    const prom = file("prometheus/prometheus.yml");
    expect(prom).toContain("scheme: https");
    expect(prom).toContain("credentials_file: /certs/secrets/admin-token");
    expect(prom).toContain("ca_file: /certs/trust-bundle.pem");
    expect(prom).toContain('targets: ["sentinel:8000"]');
  });
});
