import { ed25519PublicKeyOf } from "@fame/identity";
import { base64urlEncode, ed25519KeyId, makeEnvelope, type NodeAttach, sidFromPath } from "@fame/protocol";
import { AttachAuthority, type AttachVerifiers, SharedState } from "@fame/sentinel";
import { StateUnavailableError } from "@fame/state";
import { describe, expect, it } from "vitest";
import { quiet } from "./affinity-helpers.js";
import { clusterState, MemoryHub, recordingLogger } from "./shared-state-helpers.js";

/** Welcome's answer for a ticket: the node, its path, the ticket id */
function verifiers(assignedPath: string, jti = "jti-1"): AttachVerifiers {
  return {
    verifyTicket: async () => ({
      systemId: "n1",
      instanceId: "i1",
      assignedPath,
      acceptedLogicals: [],
      jti,
      exp: Math.floor(Date.now() / 1000) + 60,
    }),
    verifyChain: async () => {
      throw new Error("not used in the open profile");
    },
    // the cluster never asks the local replay guard
    firstUse: () => {
      throw new Error("a cluster sentinel spends tickets in the shared ledger");
    },
  };
}

const attach = (systemId = "n1") =>
  makeEnvelope<NodeAttach>({
    sid: "pending",
    frame: { type: "NodeAttach", systemId, instanceId: "i1", logicals: [], keys: [], attachTicket: "t" },
  });

function welcomeSentinel(sentinelId: string, shared: SharedState, path: string, jti?: string) {
  return new AttachAuthority({
    sentinelId,
    securityProfile: "open",
    admissionProfile: "welcome",
    verifiers: verifiers(path, jti),
    shared,
  });
}

describe("cluster admission: tickets of the cluster, spent once across its sentinels", () => {
  it("accepts a cluster ticket at any sentinel, once: the second sentinel answers ticket_replayed", async () => {
    const hub = new MemoryHub();
    const a = welcomeSentinel("sa", new SharedState(clusterState(hub).fabric, quiet), "/fabric/n1");
    const b = welcomeSentinel("sb", new SharedState(clusterState(hub).fabric, quiet), "/fabric/n1");
    const first = await a.decide(attach());
    expect(first).toMatchObject({ ok: true, assignedPath: "/fabric/n1", sid: sidFromPath("/fabric/n1") });
    expect(await b.decide(attach())).toMatchObject({ ok: false, code: "ticket_replayed" });
    expect(await a.decide(attach())).toMatchObject({ ok: false, code: "ticket_replayed" });
    // another ticket for the same node is fine at the other sentinel: same path, same sid
    const again = welcomeSentinel(
      "sb",
      new SharedState(clusterState(hub).fabric, quiet),
      "/fabric/n1",
      "jti-2",
    );
    expect(await again.decide(attach())).toMatchObject({ ok: true, sid: sidFromPath("/fabric/n1") });
  });

  it("refuses a ticket placing the node under a sentinel or another cluster", async () => {
    const shared = new SharedState(clusterState(new MemoryHub()).fabric, quiet);
    for (const path of ["/sa/n1", "/fabric2/n1", "/fabricx/n1"]) {
      const r = await welcomeSentinel("sa", shared, path).decide(attach());
      expect(r).toMatchObject({ ok: false, code: "ticket_invalid" });
      if (!r.ok) expect(r.reason).toContain("another cluster");
    }
  });

  it("places nodes admitted without a ticket under the cluster: the same sid at every sentinel", async () => {
    const hub = new MemoryHub();
    const none = (id: string) =>
      new AttachAuthority({
        sentinelId: id,
        securityProfile: "open",
        admissionProfile: "none",
        shared: new SharedState(clusterState(hub).fabric, quiet),
      });
    const ra = await none("sa").decide(attach("n7"));
    const rb = await none("sb").decide(attach("n7"));
    expect(ra).toMatchObject({ ok: true, assignedPath: "/fabric/n7" });
    expect(ra.ok && rb.ok && ra.sid === rb.sid).toBe(true);
  });

  it("partitioned: refuses attach with state_unavailable (logged once, counted), then recovers", async () => {
    const state = clusterState(new MemoryHub());
    const { log, lines } = recordingLogger();
    const shared = new SharedState(state.fabric, log);
    const authority = (jti: string) => welcomeSentinel("sa", shared, "/fabric/n1", jti);
    state.partition();
    state.partition(); // a repeated report is not a new transition
    for (const jti of ["j1", "j2"]) {
      const r = await authority(jti).decide(attach());
      expect(r).toMatchObject({ ok: false, code: "state_unavailable" });
    }
    expect(shared.refused.attach).toBe(2);
    expect(lines.filter((l) => l.msg.startsWith("shared state unavailable"))).toHaveLength(1);
    state.heal();
    expect(await authority("j1").decide(attach())).toMatchObject({ ok: true });
    expect(lines.filter((l) => l.msg.startsWith("shared state available again"))).toHaveLength(1);
    expect(shared.describe()).toMatchObject({ status: "ok", outages: 1, refused: { attach: 2 } });
    const metrics = shared.metricsText();
    expect(metrics).toContain("fame_sentinel_state_available 1");
    expect(metrics).toContain("fame_sentinel_state_outages_total 1");
    expect(metrics).toContain('fame_sentinel_state_refusals_total{work="attach"} 2');
  });

  it("a ticket ledger that fails mid-attach refuses with state_unavailable and burns nothing", async () => {
    const state = clusterState(new MemoryHub());
    const shared = new SharedState(state.fabric, quiet);
    // the status still says ok (NATS has not noticed yet) but the write fails
    const spend = state.fabric.tickets.spend.bind(state.fabric.tickets);
    let failing = true;
    Object.defineProperty(state.fabric, "tickets", {
      value: {
        spend: (jti: string, exp: number) =>
          failing ? Promise.reject(new StateUnavailableError("request timed out")) : spend(jti, exp),
      },
    });
    const a = welcomeSentinel("sa", shared, "/fabric/n1", "j9");
    expect(await a.decide(attach())).toMatchObject({ ok: false, code: "state_unavailable" });
    failing = false;
    expect(await a.decide(attach())).toMatchObject({ ok: true });
  });
});

describe("AttachAuthority.rotatedKeys (a node's renewed certificate, while attached)", () => {
  const node = {
    systemId: "n1",
    path: "/s0/n1",
    sid: sidFromPath("/s0/n1"),
    acceptedLogicals: ["math.fame.fabric"],
  };
  const key = (seedByte: number, x5c: string[]) => {
    const publicKey = ed25519PublicKeyOf(new Uint8Array(32).fill(seedByte));
    return {
      kty: "OKP" as const,
      crv: "Ed25519" as const,
      x: base64urlEncode(publicKey),
      kid: ed25519KeyId(publicKey),
      x5c,
      publicKey,
    };
  };
  /** certificates by name: what verifyChain reports for each */
  const authority = (profile: "strict-overlay" | "overlay") => {
    const chains = new Map<string, { systemId: string; path: string; logicals: string[] }>([
      ["mine", { systemId: "n1", path: "/s0/n1", logicals: ["math.fame.fabric"] }],
      ["other-node", { systemId: "n2", path: "/s0/n2", logicals: ["math.fame.fabric"] }],
      ["fewer-logicals", { systemId: "n1", path: "/s0/n1", logicals: [] }],
    ]);
    let lastKey: Uint8Array = new Uint8Array(32);
    const v: AttachVerifiers = {
      verifyTicket: async () => {
        throw new Error("not used");
      },
      verifyChain: async (x5c) => {
        const c = chains.get(x5c[0]!);
        if (c === undefined) throw new Error("does not chain to the trust bundle");
        return {
          ...c,
          sid: sidFromPath(c.path),
          publicKey: lastKey,
          notAfter: new Date(Date.now() + 60_000),
        };
      },
      firstUse: () => true,
    };
    const a = new AttachAuthority({
      sentinelId: "s0",
      securityProfile: profile,
      admissionProfile: "welcome",
      verifiers: v,
    });
    return {
      rotate: (k: ReturnType<typeof key>) => {
        lastKey = k.publicKey;
        const { publicKey: _pk, ...jwk } = k;
        return a.rotatedKeys([jwk], node);
      },
    };
  };

  it("takes a key certified for the same node, with its expiry", async () => {
    const keys = await authority("strict-overlay").rotate(key(1, ["mine"]));
    expect(Array.isArray(keys)).toBe(true);
    expect((keys as { notAfter?: number }[])[0]?.notAfter).toBeGreaterThan(Date.now());
  });

  it("refuses another node's certificate, one that grants fewer logicals, a forged chain, and outside strict-overlay", async () => {
    const strict = authority("strict-overlay");
    expect(await strict.rotate(key(2, ["other-node"]))).toMatchObject({ ok: false, code: "cert_invalid" });
    expect(await strict.rotate(key(3, ["fewer-logicals"]))).toMatchObject({
      ok: false,
      code: "logical_not_granted",
    });
    expect(await strict.rotate(key(4, ["forged"]))).toMatchObject({ ok: false, code: "cert_invalid" });
    const named = key(5, ["mine"]);
    expect(await strict.rotate({ ...named, kid: "someone-elses-kid" })).toMatchObject({
      ok: false,
      code: "bad_envelope",
    });
    expect(await authority("overlay").rotate(key(6, ["mine"]))).toMatchObject({
      ok: false,
      code: "bad_envelope",
    });
  });
});
