import { SYSTEM_ID_PATTERN } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import {
  renderPins,
  renderStatus,
  resolveNode,
  type SentinelStatus,
  SYSTEM_ID_SHAPE,
} from "../src/commands/sentinel.js";
import { CliError } from "../src/exit-codes.js";
import { describeRefusal, originOfAttachUrl } from "../src/sentinel-http.js";

const STATUS: SentinelStatus = {
  sentinelId: "sentinel0",
  securityProfile: "strict-overlay",
  loadBalancing: "round_robin",
  sessions: 3,
  inflight: 1,
  nodes: [
    {
      systemId: "r1",
      sid: "sid-r1",
      path: "/sentinel0/r1",
      name: "math-agent-replica1",
      logicals: ["*.fame.fabric"],
      inflight: 1,
    },
    {
      systemId: "r2",
      sid: "sid-r2",
      path: "/sentinel0/r2",
      logicals: ["*.fame.fabric"],
      inflight: 0,
      draining: true,
    },
    { systemId: "c1", sid: "sid-c1", path: "/sentinel0/c1", logicals: [], inflight: 0 },
  ],
  pools: {
    pools: [
      {
        address: "math@fame.fabric",
        mode: "pool",
        members: [
          { id: "r1", healthy: true, inflight: 1, requests: 10 },
          { id: "r2", healthy: true, draining: true, inflight: 0, requests: 4 },
        ],
      },
    ],
  },
  stickiness: { size: 2, perReplica: { r1: 2 }, created: 2, expired: 0 },
  counters: { routed: 14 },
};

describe("status rendering of pool policies (distribution)", () => {
  it("names each pool's mode, role, sessions and failing health checks", () => {
    const status: SentinelStatus = {
      ...STATUS,
      pools: {
        pools: [
          {
            address: "math@fame.fabric",
            mode: "pooled",
            members: [
              { id: "r1", healthy: true, inflight: 0, requests: 3 },
              { id: "r2", healthy: true, inflight: 0, requests: 1 },
            ],
          },
          {
            address: "ledger@fame.fabric",
            mode: "pooled",
            members: [
              { id: "l1", healthy: true, inflight: 0, requests: 9 },
              { id: "l2", healthy: false, inflight: 0, requests: 0 },
            ],
          },
        ],
      },
      distribution: [
        {
          address: "math@fame.fabric",
          policy: { mode: "pooled", affinity: "session", affinityTtlSec: 1800, exclusive: false },
          sessions: 2,
          counters: { stickyHits: 12, stickyMisses: 2, stickyViolations: 0 },
          replicas: [
            { id: "r1", sessions: 2 },
            { id: "r2", sessions: 0 },
          ],
        },
        {
          address: "ledger@fame.fabric",
          policy: { mode: "single-active", affinity: "none", healthCheck: { operation: "health" } },
          active: "l1",
          sessions: 0,
          counters: { promotions: 1, notActive: 0 },
          replicas: [
            { id: "l1", active: true, health: { healthy: true } },
            { id: "l2", active: false, health: { healthy: false, lastError: "method not found: helth" } },
          ],
        },
      ],
    };
    const text = renderStatus(status, "https://127.0.0.1:8000");
    expect(text).toMatch(/math@fame\.fabric\s+session\s+math-agent-replica1\s+r1\s+healthy\s+0\s+3\s+2/);
    expect(text).toMatch(/ledger@fame\.fabric\s+single-active\s+l1\s+l1\s+healthy, active\s+0\s+9\s+-/);
    expect(text).toMatch(/ledger@fame\.fabric\s+single-active\s+l2\s+l2\s+unhealthy, standby/);
    expect(text).toContain("  math@fame.fabric: 2 sessions (ttl 1800 s); sticky hits 12, misses 2, moved 0");
    expect(text).toContain(
      "  ledger@fame.fabric: active l1; promotions 1; refused not active 0; health check health failing on l2 (method not found: helth)",
    );
  });

  it("keeps a replica's health-check error on its own line: a newline in it forges no row", () => {
    // audit round 9: an insider's probe answer drew a "healthy" row under the real ones
    const forged = "boom\n  math@fame.fabric  pooled  math-agent-replica1  r2  healthy";
    const text = renderStatus(
      {
        ...STATUS,
        distribution: [
          {
            address: "math@fame.fabric",
            policy: { mode: "single-active", affinity: "none", healthCheck: { operation: "health" } },
            active: "r1",
            replicas: [{ id: "r2", active: false, health: { healthy: false, lastError: forged } }],
          },
        ],
      },
      "x",
    );
    expect(text).toContain("failing on (agent) r2 (boom\\n  math@fame.fabric  pooled");
    expect(text.split("\n").filter((l) => /^\s+math@fame\.fabric\s+pooled/.test(l))).toEqual([]);
  });

  it("says when pools or members were left out of the page", () => {
    const pools = STATUS.pools!.pools!;
    const text = renderStatus(
      {
        ...STATUS,
        pools: {
          addresses: 1200,
          truncated: true,
          pools: [{ ...pools[0]!, memberCount: 300 }],
        },
      },
      "x",
    );
    expect(text).toContain(`  ${pools[0]!.address}: ${pools[0]!.members!.length} of 300 members listed`);
    expect(text).toContain("  … 1 of 1200 pools listed: the configured ones, then the busiest");
  });

  it("keeps the registry's mode and adds nothing for a pool without a policy", () => {
    const text = renderStatus(
      { ...STATUS, distribution: [{ address: "math@fame.fabric", policy: null }] },
      "x",
    );
    expect(text).toMatch(/math@fame\.fabric\s+pool\s+math-agent-replica1/);
    expect(text).not.toContain("  math@fame.fabric:");
  });
});

describe("status rendering", () => {
  it("shows pools with replica names, nodes and pins", () => {
    const text = renderStatus(STATUS, "https://127.0.0.1:8000");
    expect(text).toContain(
      "Sentinel sentinel0 at https://127.0.0.1:8000: strict-overlay, load balancing round_robin, 3 nodes attached, 1 request in flight",
    );
    expect(text).toMatch(/math@fame\.fabric\s+pool\s+math-agent-replica1\s+r1\s+healthy\s+1\s+10/);
    expect(text).toMatch(/math@fame\.fabric\s+pool\s+\(agent\)\s+r2\s+draining/);
    expect(text).toMatch(/\(client\)\s+c1\s+\/sentinel0\/c1\s+-\s+0\s+attached/);
    expect(text).toContain("Pins (AFT stickiness): 2 active");
    expect(text).toContain("created 2, expired 0");
    expect(text).toContain("Counters: routed 14");
    // in a cluster, a member attached to another sentinel is named from the page's remoteNames
    const clustered = renderStatus(
      {
        ...STATUS,
        nodes: (STATUS.nodes ?? []).filter((n) => n.systemId !== "r2"),
        remoteNames: { r2: "replica-elsewhere" },
      },
      "https://x",
    );
    expect(clustered).toMatch(/math@fame\.fabric\s+pool\s+replica-elsewhere\s+r2/);
  });

  it("says when stickiness is off or nothing is attached", () => {
    expect(renderPins({ stickiness: null })).toBe("Pins: stickiness is off");
    expect(renderStatus({}, "https://x")).toContain("(none: no agent is attached)");
  });
});

describe("drain targets", () => {
  it("takes a system id, or the node a name, sid or path names", () => {
    expect(resolveNode(STATUS, "r2")).toBe("r2");
    expect(resolveNode(STATUS, "math-agent-replica1")).toBe("r1");
    expect(resolveNode(STATUS, "sid-c1")).toBe("c1");
    expect(resolveNode(STATUS, "/sentinel0/r2")).toBe("r2");
    expect(resolveNode(undefined, "whatever")).toBe("whatever");
  });

  it("knows a system id's shape as the protocol does", () => {
    expect(SYSTEM_ID_SHAPE.source).toBe(SYSTEM_ID_PATTERN.source);
  });

  it("gives nothing for a name that matches no node and cannot be an id (a mistyped replica name)", () => {
    // the caller then says no attached node by that name (exit 1), not the sentinel's 400
    expect(resolveNode(STATUS, "math-agent-replica9")).toBeUndefined();
    expect(resolveNode(undefined, "text-9")).toBeUndefined();
  });

  it("refuses a name that several nodes carry", () => {
    const twice: SentinelStatus = {
      nodes: [
        { systemId: "a", name: "x" },
        { systemId: "b", name: "x" },
      ],
    };
    expect(() => resolveNode(twice, "x")).toThrow(CliError);
  });

  it("refuses an id that another node also carries as its name (an insider naming itself after a replica)", () => {
    const spoofed: SentinelStatus = {
      nodes: [
        { systemId: "8nE7LQUwfb8YeCQ2mTijJa", name: "replica1" },
        { systemId: "hXmhLaacifSb4gEfg3tCCj", name: "8nE7LQUwfb8YeCQ2mTijJa" },
      ],
    };
    expect(() => resolveNode(spoofed, "8nE7LQUwfb8YeCQ2mTijJa")).toThrow(/names 2 nodes/);
    expect(resolveNode(spoofed, "hXmhLaacifSb4gEfg3tCCj")).toBe("hXmhLaacifSb4gEfg3tCCj");
  });
});

describe("sentinel addresses and refusals", () => {
  it("derives the HTTP origin from the attach URL", () => {
    expect(originOfAttachUrl("wss://127.0.0.1:8000/fame/v1/attach/ws/downstream")).toBe(
      "https://127.0.0.1:8000",
    );
    expect(originOfAttachUrl("ws://h:1/x")).toBe("http://h:1");
    expect(originOfAttachUrl("https://h:2")).toBe("https://h:2");
    expect(() => originOfAttachUrl("ftp://h")).toThrow(CliError);
    expect(() => originOfAttachUrl("not a url")).toThrow(/^FAME_SENTINEL_URL: /);
    // what the user typed is named: the option, not a setting they never set
    expect(() => originOfAttachUrl("127.0.0.1:8000", "--url")).toThrow(
      /^--url: "127.0.0.1:8000" is not a URL/,
    );
  });

  it("quotes the sentinel's error code and description", () => {
    expect(
      describeRefusal({
        status: 404,
        body: { error: "not_found", error_description: "no attached node by that id" },
      }),
    ).toBe("HTTP 404 not_found: no attached node by that id");
    expect(describeRefusal({ status: 502, body: "<html>" })).toBe("HTTP 502");
  });
});
