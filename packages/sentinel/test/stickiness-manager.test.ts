import { randomBytes } from "node:crypto";
import { type AftClaims, AftSigner, ed25519PublicKeyOf, signAft, unsignedAft } from "@fame/identity";
import { describe, expect, it } from "vitest";
import {
  AFTLoadBalancerStickinessManager,
  type SecureAcceptInfo,
  type StickinessConfig,
} from "../src/stickiness/index.js";

const T0 = 1_750_000_000_000;

interface Replica {
  id: string;
  sid: string;
  seed: Uint8Array;
  signer: AftSigner;
}

/** A fake fabric: replicas with keys, a controllable clock, a manager wired to both. */
function fabric(config: Partial<StickinessConfig>, replicaCount = 3) {
  let now = T0;
  const clock = () => now;
  const replicas = new Map<string, Replica>();
  for (let i = 0; i < replicaCount; i++) {
    const seed = new Uint8Array(randomBytes(32));
    replicas.set(`r${i}`, {
      id: `r${i}`,
      sid: `sid-r${i}`,
      seed,
      signer: new AftSigner(seed, { now: clock, ttlSec: 600 }),
    });
  }
  const keys = new Map([...replicas.values()].map((r) => [r.id, ed25519PublicKeyOf(r.seed)]));
  const bySid = new Map([...replicas.values()].map((r) => [r.sid, r.id]));
  const make = () =>
    new AFTLoadBalancerStickinessManager(config, {
      now: clock,
      replicaKeyOf: (id) => keys.get(id),
      replicaBySid: (sid) => bySid.get(sid),
    });
  const mgr = make();
  const rep = (id: string): Replica => {
    const r = replicas.get(id);
    if (r === undefined) throw new Error(id);
    return r;
  };
  /** What the sentinel passes for an accept of `cid` by `replicaId` for `clientSid`. */
  const accept = async (
    replicaId: string,
    clientSid: string,
    cid: string,
    aft?: string,
  ): Promise<SecureAcceptInfo> => {
    const r = rep(replicaId);
    return {
      replicaId,
      replicaSid: r.sid,
      clientSid,
      cid,
      aft: aft ?? (await r.signer.issue({ sid: r.sid, cid, clientSid })),
    };
  };
  return {
    mgr,
    make,
    rep,
    keys,
    accept,
    advance: (ms: number) => {
      now += ms;
    },
    nowSec: () => Math.floor(now / 1000),
  };
}

const pinned = (replicaId: string) => ({ kind: "pinned", replicaId });

describe("a replica that renewed its certificate", () => {
  it("pins from a tag it signed with its older key, while it holds both; a stranger's key pins nothing", async () => {
    const now = T0;
    const clock = () => now;
    const oldSeed = new Uint8Array(randomBytes(32));
    const newSeed = new Uint8Array(randomBytes(32));
    const oldSigner = new AftSigner(oldSeed, { now: clock, ttlSec: 600 });
    const held = [ed25519PublicKeyOf(newSeed), ed25519PublicKeyOf(oldSeed)];
    const mgr = new AFTLoadBalancerStickinessManager(
      { securityLevel: "strict" },
      { now: clock, replicaKeyOf: () => held[0], replicaKeysOf: () => held, replicaBySid: () => "r0" },
    );
    const info = async (cid: string, signer: AftSigner): Promise<SecureAcceptInfo> => ({
      replicaId: "r0",
      replicaSid: "sid-r0",
      clientSid: "client",
      cid,
      aft: await signer.issue({ sid: "sid-r0", cid, clientSid: "client" }),
    });
    expect((await mgr.onSecureAccept(await info("c-old", oldSigner))).pinned).toBe(true);
    const stranger = new AftSigner(new Uint8Array(randomBytes(32)), { now: clock, ttlSec: 600 });
    expect(await mgr.onSecureAccept(await info("c-stranger", stranger))).toMatchObject({ pinned: false });
  });
});

describe("strict", () => {
  it("pins on a valid AFT and routes later frames to that replica", async () => {
    const f = fabric({ securityLevel: "strict" });
    const result = await f.mgr.onSecureAccept(await f.accept("r1", "alice", "c1"));
    expect(result).toMatchObject({ pinned: true, replicaId: "r1", trust: "high" });
    for (let i = 0; i < 5; i++) expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r1"));
    expect(f.mgr.metrics()).toMatchObject({ pinsCreated: 1, hits: 5, misses: 0, size: 1 });
  });

  it("refuses frames of unpinned channels, but lets an opening frame through", () => {
    const f = fabric({ securityLevel: "strict" });
    expect(f.mgr.route({ clientSid: "alice", cid: "nope" })).toEqual({
      kind: "refused",
      code: "channel_unknown",
    });
    expect(f.mgr.route({ clientSid: "alice", cid: "nope", opening: true })).toEqual({ kind: "none" });
    expect(f.mgr.metrics()).toMatchObject({ misses: 2, refusals: 1 });
  });

  it("does not pin on a missing, unsigned, forged, expired or mismatched AFT", async () => {
    const f = fabric({ securityLevel: "strict" });
    const r1 = f.rep("r1");
    const s = f.nowSec();
    const good: AftClaims = {
      sid: r1.sid,
      cid: "c1",
      client_sid: "alice",
      scp: "channel",
      iat: s,
      exp: s + 600,
    };
    const cases: [string | undefined, string][] = [
      [undefined, "missing"],
      [unsignedAft(good), "unsigned"],
      [await signAft(good, f.rep("r2").seed), "bad_signature"],
      [await signAft({ ...good, iat: s - 7200, exp: s - 3600 }, r1.seed), "expired"],
      [await signAft({ ...good, cid: "c2" }, r1.seed), "cid_mismatch"],
      [await signAft({ ...good, client_sid: "bob" }, r1.seed), "client_sid_mismatch"],
      [await signAft({ ...good, sid: f.rep("r2").sid }, r1.seed), "sid_mismatch"],
      ["garbage", "malformed"],
    ];
    for (const [aft, reason] of cases) {
      const info = { replicaId: "r1", replicaSid: r1.sid, clientSid: "alice", cid: "c1", aft };
      expect(await f.mgr.onSecureAccept(info), reason).toEqual({ pinned: false, reason });
    }
    expect(f.mgr.metrics()).toMatchObject({ pinsCreated: 0, verifyFailures: cases.length, size: 0 });
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual({
      kind: "refused",
      code: "channel_unknown",
    });
  });

  it("an AFT from replica r2 cannot pin a channel to r1 (signed by the wrong replica key)", async () => {
    const f = fabric({ securityLevel: "strict" });
    const r2 = f.rep("r2");
    const aft = await r2.signer.issue({ sid: f.rep("r1").sid, cid: "c1", clientSid: "alice" });
    expect(await f.mgr.onSecureAccept(await f.accept("r1", "alice", "c1", aft))).toEqual({
      pinned: false,
      reason: "bad_signature",
    });
  });

  it("does not pin when the replica left during verification", async () => {
    const f = fabric({ securityLevel: "strict" });
    const info = await f.accept("r1", "alice", "c1");
    const pending = f.mgr.onSecureAccept(info);
    f.keys.delete("r1");
    f.mgr.onReplicaLeft("r1");
    expect(await pending).toEqual({ pinned: false, reason: "replica_gone" });
    expect(f.mgr.size).toBe(0);
  });

  it("verifies against the replica's current key after it re-attaches with a new one", async () => {
    const f = fabric({ securityLevel: "strict" });
    const old = await f.accept("r1", "alice", "c1");
    expect((await f.mgr.onSecureAccept(old)).pinned).toBe(true);
    const newSeed = new Uint8Array(randomBytes(32));
    f.keys.set("r1", ed25519PublicKeyOf(newSeed));
    const stale = await f.accept("r1", "alice", "c2");
    expect(await f.mgr.onSecureAccept(stale)).toMatchObject({ pinned: false, reason: "bad_signature" });
    const fresh = new AftSigner(newSeed, { now: () => T0 });
    const aft = await fresh.issue({ sid: f.rep("r1").sid, cid: "c2", clientSid: "alice" });
    expect((await f.mgr.onSecureAccept({ ...stale, aft })).pinned).toBe(true);
  });
});

describe("signed-optional", () => {
  it("pins signed AFTs with high trust, unsigned or absent ones with low trust", async () => {
    const f = fabric({ securityLevel: "signed-optional" });
    const r0 = f.rep("r0");
    const s = f.nowSec();
    expect(await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c1"))).toMatchObject({
      pinned: true,
      trust: "high",
    });
    const unsigned = unsignedAft({
      sid: r0.sid,
      cid: "c2",
      client_sid: "alice",
      scp: "channel",
      iat: s,
      exp: s + 60,
    });
    expect(await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c2", unsigned))).toMatchObject({
      pinned: true,
      trust: "low",
      expiresAtMs: (s + 60 + 30) * 1000,
    });
    const none = { replicaId: "r0", replicaSid: r0.sid, clientSid: "alice", cid: "c3" };
    expect(await f.mgr.onSecureAccept(none)).toMatchObject({
      pinned: true,
      trust: "low",
      expiresAtMs: (s + 300) * 1000,
    });
    for (const cid of ["c1", "c2", "c3"])
      expect(f.mgr.route({ clientSid: "alice", cid })).toEqual(pinned("r0"));
    // No pin is not a refusal here: the sentinel may load-balance.
    expect(f.mgr.route({ clientSid: "alice", cid: "c9" })).toEqual({ kind: "none" });
  });

  it("refuses a badly signed AFT and an unsigned one with wrong claims", async () => {
    const f = fabric({ securityLevel: "signed-optional" });
    const r0 = f.rep("r0");
    const s = f.nowSec();
    const forged = await signAft(
      { sid: r0.sid, cid: "c1", client_sid: "alice", scp: "channel", iat: s, exp: s + 60 },
      f.rep("r1").seed,
    );
    expect(await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c1", forged))).toEqual({
      pinned: false,
      reason: "bad_signature",
    });
    const wrong = unsignedAft({
      sid: r0.sid,
      cid: "c1",
      client_sid: "bob",
      scp: "channel",
      iat: s,
      exp: s + 60,
    });
    expect(await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c1", wrong))).toEqual({
      pinned: false,
      reason: "client_sid_mismatch",
    });
    expect(f.mgr.size).toBe(0);
  });
});

describe("sid-only", () => {
  it("pins the client sid without any AFT", async () => {
    const f = fabric({ securityLevel: "sid-only" });
    const info = { replicaId: "r2", replicaSid: "sid-r2", clientSid: "alice", cid: "c1", aft: "ignored" };
    expect(await f.mgr.onSecureAccept(info)).toMatchObject({ pinned: true, replicaId: "r2", trust: "low" });
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r2"));
    expect(f.mgr.route({ clientSid: "alice", cid: "any-other" })).toEqual(pinned("r2"));
    expect(f.mgr.route({ clientSid: "bob", cid: "c1" })).toEqual({ kind: "none" });
    expect(f.mgr.onSecureClose("alice", "c1")).toBe(false);
    f.advance(301_000);
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual({ kind: "none" });
  });

  it("scopes the client pin per address when one is given", async () => {
    const f = fabric({ securityLevel: "sid-only" });
    const base = { replicaSid: "x", clientSid: "alice", cid: "c" };
    await f.mgr.onSecureAccept({ ...base, replicaId: "r0", address: "math@fame.fabric" });
    await f.mgr.onSecureAccept({ ...base, replicaId: "r1", address: "chat@fame.fabric" });
    expect(f.mgr.route({ clientSid: "alice", cid: "c", address: "math@fame.fabric" })).toEqual(pinned("r0"));
    expect(f.mgr.route({ clientSid: "alice", cid: "c", address: "chat@fame.fabric" })).toEqual(pinned("r1"));
    expect(f.mgr.onClientLeft("alice")).toBe(2);
  });
});

describe("expiry and bounds", () => {
  it("expires a pin at the AFT exp plus skew", async () => {
    const f = fabric({ securityLevel: "strict", clockSkewSec: 5 });
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c1")); // ttl 600 s
    f.advance(604_000);
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r0"));
    f.advance(1_000);
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual({
      kind: "refused",
      code: "channel_unknown",
    });
    expect(f.mgr.metrics()).toMatchObject({ expirations: 1, size: 0 });
  });

  it("expires idle pins; use keeps them alive", async () => {
    const f = fabric({ securityLevel: "strict", idleTtlSec: 60 });
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "busy"));
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "idle"));
    for (let i = 0; i < 5; i++) {
      f.advance(50_000);
      expect(f.mgr.route({ clientSid: "alice", cid: "busy" })).toEqual(pinned("r0"));
    }
    expect(f.mgr.route({ clientSid: "alice", cid: "idle" })).toMatchObject({ kind: "refused" });
    expect(f.mgr.size).toBe(1);
  });

  it("sweeps expired pins incrementally, at most maxWork per call", async () => {
    const f = fabric({ securityLevel: "signed-optional", defaultTtlSec: 10 });
    for (let i = 0; i < 50; i++) {
      await f.mgr.onSecureAccept({ replicaId: "r0", replicaSid: "sid-r0", clientSid: "alice", cid: `c${i}` });
    }
    f.advance(5_000);
    await f.mgr.onSecureAccept({ replicaId: "r1", replicaSid: "sid-r1", clientSid: "bob", cid: "late" });
    f.advance(6_000);
    expect(f.mgr.sweep(0)).toBe(0);
    let total = 0;
    let calls = 0;
    for (;;) {
      const removed = f.mgr.sweep(7);
      expect(removed).toBeLessThanOrEqual(7);
      total += removed;
      calls++;
      if (f.mgr.size === 1 || calls > 20) break;
    }
    expect(total).toBe(50);
    expect(calls).toBeGreaterThan(1);
    expect(f.mgr.route({ clientSid: "bob", cid: "late" })).toEqual(pinned("r1"));
    expect(f.mgr.metrics().expirations).toBe(50);
  });

  it("evicts the least recently used pin beyond maxEntries", async () => {
    const f = fabric({ securityLevel: "signed-optional", maxEntries: 3 });
    const open = (cid: string) =>
      f.mgr.onSecureAccept({ replicaId: "r0", replicaSid: "sid-r0", clientSid: "alice", cid });
    await open("a");
    await open("b");
    await open("c");
    f.advance(1_000);
    expect(f.mgr.route({ clientSid: "alice", cid: "a" })).toEqual(pinned("r0"));
    await open("d");
    expect(f.mgr.size).toBe(3);
    expect(f.mgr.route({ clientSid: "alice", cid: "b" })).toEqual({ kind: "none" });
    for (const cid of ["a", "c", "d"]) expect(f.mgr.route({ clientSid: "alice", cid })).toEqual(pinned("r0"));
    expect(f.mgr.metrics().evictions).toBe(1);
    for (let i = 0; i < 100; i++) await open(`x${i}`);
    expect(f.mgr.size).toBe(3);
  });

  it("refuses ids too long to store", async () => {
    const f = fabric({ securityLevel: "sid-only" });
    const r = await f.mgr.onSecureAccept({
      replicaId: "r0",
      replicaSid: "s",
      clientSid: "a".repeat(300),
      cid: "c",
    });
    expect(r).toEqual({ pinned: false, reason: "bad_input" });
  });
});

describe("membership changes", () => {
  it("drops all pins of a leaving replica, and only those", async () => {
    const f = fabric({ securityLevel: "strict" });
    for (let i = 0; i < 30; i++) {
      const replica = `r${i % 3}`;
      await f.mgr.onSecureAccept(await f.accept(replica, `client${i % 4}`, `c${i}`));
    }
    expect(f.mgr.pinsPerReplica()).toEqual(
      new Map([
        ["r0", 10],
        ["r1", 10],
        ["r2", 10],
      ]),
    );
    expect(f.mgr.onReplicaLeft("r1")).toBe(10);
    expect(f.mgr.onReplicaLeft("r1")).toBe(0);
    expect(f.mgr.size).toBe(20);
    // the dashboard's "channels moved": channels that must open again elsewhere
    expect(f.mgr.metrics().orphaned).toBe(10);
    expect(f.mgr.pinsPerReplica().has("r1")).toBe(false);
    for (let i = 0; i < 30; i++) {
      const decision = f.mgr.route({ clientSid: `client${i % 4}`, cid: `c${i}` });
      if (i % 3 === 1) expect(decision).toEqual({ kind: "refused", code: "channel_unknown" });
      else expect(decision).toEqual(pinned(`r${i % 3}`));
    }
  });

  it("drops a leaving client's pins and a closed channel's pin", async () => {
    const f = fabric({ securityLevel: "strict" });
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "a1"));
    await f.mgr.onSecureAccept(await f.accept("r1", "alice", "a2"));
    await f.mgr.onSecureAccept(await f.accept("r1", "bob", "b1"));
    await f.mgr.onSecureAccept(await f.accept("r1", "bob", "b2"));
    expect(f.mgr.onSecureClose("bob", "b2")).toBe(true);
    expect(f.mgr.onSecureClose("bob", "b2")).toBe(false);
    expect(f.mgr.onClientLeft("alice")).toBe(2);
    expect(f.mgr.size).toBe(1);
    expect(f.mgr.route({ clientSid: "bob", cid: "b1" })).toEqual(pinned("r1"));
    expect(f.mgr.pinsPerReplica()).toEqual(new Map([["r1", 1]]));
  });
});

describe("channel hijack", () => {
  it("refuses another client's frames, close and accept on an owned cid; the owner is unaffected", async () => {
    const f = fabric({ securityLevel: "strict" });
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "shared"));
    expect(f.mgr.route({ clientSid: "mallory", cid: "shared" })).toEqual({
      kind: "refused",
      code: "channel_conflict",
    });
    expect(f.mgr.route({ clientSid: "mallory", cid: "shared", opening: true })).toMatchObject({
      code: "channel_conflict",
    });
    expect(f.mgr.onSecureClose("mallory", "shared")).toBe(false);
    expect(await f.mgr.onSecureAccept(await f.accept("r2", "mallory", "shared"))).toEqual({
      pinned: false,
      reason: "channel_conflict",
    });
    expect(f.mgr.route({ clientSid: "alice", cid: "shared" })).toEqual(pinned("r0"));
    expect(f.mgr.metrics().refusals).toBe(3);
  });
});

describe("routeStateless", () => {
  it("re-creates the pin from the echoed AFT on a fresh manager", async () => {
    const f = fabric({ securityLevel: "strict" });
    const info = await f.accept("r2", "alice", "c1");
    await f.mgr.onSecureAccept(info);
    const restarted = f.make();
    expect(restarted.route({ clientSid: "alice", cid: "c1" })).toMatchObject({ code: "channel_unknown" });
    expect(await restarted.routeStateless({ clientSid: "alice", cid: "c1", aft: info.aft })).toEqual(
      pinned("r2"),
    );
    expect(restarted.route({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r2"));
    expect(restarted.metrics()).toMatchObject({ pinsCreated: 1, size: 1 });
    // A hit needs no tag at all.
    expect(await restarted.routeStateless({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r2"));
  });

  it("refuses echoed tags that are forged, foreign or for an unknown replica", async () => {
    const f = fabric({ securityLevel: "strict" });
    const info = await f.accept("r2", "alice", "c1");
    const mgr = f.make();
    const unknown = { kind: "refused", code: "channel_unknown" };
    expect(await mgr.routeStateless({ clientSid: "mallory", cid: "c1", aft: info.aft })).toEqual(unknown);
    expect(await mgr.routeStateless({ clientSid: "alice", cid: "c2", aft: info.aft })).toEqual(unknown);
    const s = f.nowSec();
    const forged = await signAft(
      { sid: "sid-r2", cid: "c1", client_sid: "alice", scp: "channel", iat: s, exp: s + 60 },
      f.rep("r0").seed,
    );
    expect(await mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: forged })).toEqual(unknown);
    const ghost = await f.rep("r0").signer.issue({ sid: "sid-gone", cid: "c1", clientSid: "alice" });
    expect(await mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: ghost })).toEqual(unknown);
    const unsigned = unsignedAft({
      sid: "sid-r2",
      cid: "c1",
      client_sid: "alice",
      scp: "channel",
      iat: s,
      exp: s + 60,
    });
    expect(await mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: unsigned })).toEqual(unknown);
    expect(await mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: "x.y.z" })).toEqual(unknown);
    expect(mgr.metrics()).toMatchObject({ size: 0, verifyFailures: 6 });
  });

  it("does not override another client's live pin", async () => {
    const f = fabric({ securityLevel: "strict" });
    await f.mgr.onSecureAccept(await f.accept("r0", "alice", "c1"));
    const bobAft = await f.rep("r1").signer.issue({ sid: "sid-r1", cid: "c1", clientSid: "bob" });
    expect(await f.mgr.routeStateless({ clientSid: "bob", cid: "c1", aft: bobAft })).toEqual({
      kind: "refused",
      code: "channel_conflict",
    });
    expect(f.mgr.route({ clientSid: "alice", cid: "c1" })).toEqual(pinned("r0"));
  });

  it("accepts an unsigned echo with low trust in signed-optional", async () => {
    const f = fabric({ securityLevel: "signed-optional" });
    const s = f.nowSec();
    const aft = unsignedAft({
      sid: "sid-r1",
      cid: "c1",
      client_sid: "alice",
      scp: "channel",
      iat: s,
      exp: s + 60,
    });
    expect(await f.mgr.routeStateless({ clientSid: "alice", cid: "c1", aft })).toEqual(pinned("r1"));
  });
});

describe("the cluster's pin store", () => {
  /** a PinStore in memory that counts its writes */
  function countingStore() {
    const pins = new Map<string, { replicaSystemId: string; replicaSid: string; exp: number }>();
    const writes = { put: 0, delete: 0 };
    return {
      writes,
      get: (clientSid: string, cid: string) => pins.get(`${clientSid}/${cid}`),
      put: async (
        clientSid: string,
        cid: string,
        pin: { replicaSystemId: string; replicaSid: string; exp: number },
      ) => {
        writes.put++;
        pins.set(`${clientSid}/${cid}`, pin);
      },
      delete: async (clientSid: string, cid: string) => {
        writes.delete++;
        pins.delete(`${clientSid}/${cid}`);
      },
      onChange: () => () => undefined,
      get size() {
        return pins.size;
      },
    };
  }

  it("deletes a pin there when its channel closes, but writes nothing for a pin re-made locally from an echoed AFT", async () => {
    const f = fabric({ securityLevel: "strict" });
    const store = countingStore();
    f.mgr.setSharedPins(store);
    const info = await f.accept("r1", "alice", "c1");
    expect(await f.mgr.onSecureAccept(info)).toMatchObject({ pinned: true });
    expect(store.writes).toEqual({ put: 1, delete: 0 });
    expect(f.mgr.onSecureClose("alice", "c1")).toBe(true);
    expect(store.writes).toEqual({ put: 1, delete: 1 });
    // the client keeps echoing the closed channel's AFT and closing it again: a loop of local
    // re-pins, none of which the store ever held
    for (let i = 0; i < 20; i++) {
      expect(await f.mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: info.aft })).toEqual(
        pinned("r1"),
      );
      expect(f.mgr.onSecureClose("alice", "c1")).toBe(true);
    }
    expect(store.writes).toEqual({ put: 1, delete: 1 });
  });
});

describe("keyless replicas (open profile, signed-optional)", () => {
  const tag = (sid: string, cid: string, clientSid: string) => {
    const s = Math.floor(T0 / 1000);
    return unsignedAft({ sid, cid, client_sid: clientSid, scp: "channel", iat: s, exp: s + 60 });
  };
  const attached = new Map([["sid-r1", "r1"]]);
  const manager = () =>
    new AFTLoadBalancerStickinessManager(
      { securityLevel: "signed-optional" },
      { now: () => T0, replicaKeyOf: () => undefined, replicaBySid: (sid) => attached.get(sid) },
    );

  it("pins on an unsigned accept and repairs a miss from the echoed unsigned tag", async () => {
    const mgr = manager();
    const accepted = await mgr.onSecureAccept({
      replicaId: "r1",
      replicaSid: "sid-r1",
      clientSid: "alice",
      cid: "c1",
      aft: tag("sid-r1", "c1", "alice"),
    });
    expect(accepted).toMatchObject({ pinned: true, replicaId: "r1", trust: "low" });
    const restarted = manager();
    expect(
      await restarted.routeStateless({ clientSid: "alice", cid: "c1", aft: tag("sid-r1", "c1", "alice") }),
    ).toEqual(pinned("r1"));
    expect(restarted.metrics()).toMatchObject({ size: 1, verifyFailures: 0 });
  });

  it("repairs nothing towards a replica that is not attached, nor for another client", async () => {
    const mgr = manager();
    // a miss: in signed-optional the frame is placed afresh (a SecureOpen) or refused by the route
    const unknown = { kind: "none" };
    expect(
      await mgr.routeStateless({ clientSid: "alice", cid: "c1", aft: tag("sid-gone", "c1", "alice") }),
    ).toEqual(unknown);
    expect(
      await mgr.routeStateless({ clientSid: "mallory", cid: "c1", aft: tag("sid-r1", "c1", "alice") }),
    ).toEqual(unknown);
    expect(mgr.metrics().size).toBe(0);
  });
});

describe("late wiring", () => {
  it("fails closed until the replica directory is set, then verifies", async () => {
    const f = fabric({ securityLevel: "strict" });
    const mgr = new AFTLoadBalancerStickinessManager({ securityLevel: "strict" }, { now: () => T0 });
    const info = await f.accept("r0", "alice", "c1");
    expect(await mgr.onSecureAccept(info)).toEqual({ pinned: false, reason: "no_replica_key" });
    mgr.setReplicaDirectory({ replicaKeyOf: (id) => f.keys.get(id) });
    expect(await mgr.onSecureAccept(info)).toMatchObject({ pinned: true, replicaId: "r0" });
    expect(new AFTLoadBalancerStickinessManager().securityLevel).toBe("strict");
  });
});
