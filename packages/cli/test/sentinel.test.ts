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

describe("status rendering", () => {
  it("shows pools with replica names, nodes and pins", () => {
    const text = renderStatus(STATUS, "https://127.0.0.1:8000");
    expect(text).toContain(
      "Sentinel sentinel0 at https://127.0.0.1:8000: strict-overlay, load balancing round_robin, 3 nodes attached, 1 requests in flight",
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
