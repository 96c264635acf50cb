import { ConfigError } from "@fame/config";
import { defaultBackend } from "@fame/crypto";
import { DEFAULT_CONNECTION_LIMITS } from "@fame/http-service/connection-limits";
import { ed25519PublicKeyOf } from "@fame/identity";
import { base64urlEncode, encodeEnvelope, makeEnvelope } from "@fame/protocol";
import {
  AFTLoadBalancerStickinessManager,
  AttachAuthority,
  AttachGate,
  CLOSE,
  hostOf,
  LIMIT_DEFAULTS,
  LogThrottle,
  PendingAttaches,
  remoteKey,
  Sentinel,
  sentinelConfigFromEnv,
  TokenBucketLimiter,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { FakeLink, quietLogger as quiet } from "./fake-link.js";

describe("TokenBucketLimiter", () => {
  it("allows a burst of `capacity`, then refills continuously at ratePerMin", () => {
    let now = 0;
    const b = new TokenBucketLimiter({ ratePerMin: 60, now: () => now });
    for (let i = 0; i < 60; i++) expect(b.tryTake("ip")).toBe(true);
    expect(b.tryTake("ip")).toBe(false);
    expect(b.retryAfterMs("ip")).toBe(1000);
    now += 999;
    expect(b.tryTake("ip")).toBe(false);
    now += 1;
    expect(b.tryTake("ip")).toBe(true);
    expect(b.tryTake("ip")).toBe(false);
    // a full minute restores the whole burst, never more
    now += 10 * 60_000;
    let n = 0;
    while (n < 1000 && b.tryTake("ip")) n++;
    expect(n).toBe(60);
  });

  it("does not charge refused attempts: a client that keeps trying is let in once a token refills", () => {
    let now = 0;
    const b = new TokenBucketLimiter({ ratePerMin: 6, capacity: 1, now: () => now });
    expect(b.tryTake("a")).toBe(true);
    for (let i = 0; i < 100; i++) expect(b.tryTake("a")).toBe(false);
    now += 10_000;
    expect(b.tryTake("a")).toBe(true);
  });

  it("keys are independent", () => {
    const b = new TokenBucketLimiter({ ratePerMin: 1, now: () => 0 });
    expect(b.tryTake("a")).toBe(true);
    expect(b.tryTake("a")).toBe(false);
    expect(b.tryTake("b")).toBe(true);
  });

  it("tracks at most maxKeys keys, dropping the least recently seen", () => {
    const b = new TokenBucketLimiter({ ratePerMin: 1, maxKeys: 3, now: () => 0 });
    for (const k of ["a", "b", "c"]) expect(b.tryTake(k)).toBe(true);
    expect(b.tryTake("a")).toBe(false); // a is now the most recent
    expect(b.tryTake("d")).toBe(true); // evicts b
    expect(b.size).toBe(3);
    expect(b.tryTake("a")).toBe(false); // a kept its empty bucket
    expect(b.tryTake("b")).toBe(true); // b starts over
    for (let i = 0; i < 10_000; i++) b.tryTake(`k${i}`);
    expect(b.size).toBe(3);
  });

  it("refuses nonsense settings", () => {
    expect(() => new TokenBucketLimiter({ ratePerMin: 0 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ ratePerMin: Number.NaN })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ ratePerMin: 5, maxKeys: 0 })).toThrow(RangeError);
  });
});

describe("remoteKey", () => {
  it("keys IPv4 by address, IPv4-mapped IPv6 as IPv4 and IPv6 by /64", () => {
    expect(remoteKey("127.0.0.1")).toBe("127.0.0.1");
    expect(remoteKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(remoteKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(remoteKey("2001:0db8:0001:0002:ffff:0:0:9")).toBe("2001:db8:1:2::/64");
    expect(remoteKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(remoteKey("::1")).toBe("0:0:0:0::/64");
    expect(remoteKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  it("folds anything unparseable into one key", () => {
    for (const bad of [undefined, "", "not-an-ip", "1.2.3", "1:2:3"]) expect(remoteKey(bad)).toBe("unknown");
  });
});

describe("AttachGate", () => {
  const none = { total: 0, from: () => 0 };

  it("answers 503 while too many connections are attaching, without spending the client's tokens", () => {
    const gate = new AttachGate({ ratePerMin: 2, maxPending: 4, maxPendingPerIp: 4, now: () => 0 });
    const full = { total: 4, from: () => 0 };
    for (let i = 0; i < 10; i++)
      expect(gate.check("10.0.0.1", full)).toMatchObject({ ok: false, status: 503 });
    expect(gate.check("10.0.0.1", none).ok).toBe(true);
    expect(gate.check("10.0.0.1", none).ok).toBe(true);
    const refused = gate.check("10.0.0.1", none);
    expect(refused).toMatchObject({ ok: false, status: 429, key: "10.0.0.1" });
    if (!refused.ok) expect(refused.retryAfterSec).toBe(30);
    expect(gate.check("10.0.0.2", none).ok).toBe(true);
  });

  it("caps connections still attaching per remote IP, leaving other remotes room", () => {
    const gate = new AttachGate({ ratePerMin: 100, maxPending: 100, maxPendingPerIp: 2, now: () => 0 });
    const pending = new PendingAttaches();
    pending.add("c1", "10.0.0.1:1000");
    pending.add("c2", "::ffff:10.0.0.1:1001");
    expect(gate.check("10.0.0.1", pending)).toMatchObject({ ok: false, status: 429 });
    expect(gate.check("10.0.0.2", pending).ok).toBe(true);
    pending.remove("c1");
    expect(gate.check("10.0.0.1", pending).ok).toBe(true);
  });
});

describe("PendingAttaches", () => {
  it("counts per connection and per remote key, idempotently", () => {
    const p = new PendingAttaches();
    p.add("a", "127.0.0.1:5000");
    p.add("a", "127.0.0.1:5000");
    p.add("b", "127.0.0.1:5001");
    p.add("c", "2001:db8::7:443");
    expect(p.total).toBe(3);
    expect(p.from("127.0.0.1")).toBe(2);
    expect(p.from("2001:db8:0:0::/64")).toBe(1);
    expect(p.remove("a")).toBe(true);
    expect(p.remove("a")).toBe(false);
    expect(p.from("127.0.0.1")).toBe(1);
    expect(hostOf("::1:443")).toBe("::1");
  });
});

describe("LogThrottle", () => {
  it("logs the first few events, then one in `every`", () => {
    const t = new LogThrottle(2, 10);
    const logged = Array.from({ length: 30 }, () => t.hit()).filter(Boolean).length;
    expect(logged).toBe(2 + 3);
    expect(t.total).toBe(30);
  });
});

describe("limit settings", () => {
  const base = { FAME_CONFIG: "", FAME_DEV_INSECURE_HTTP: "1", FAME_ADMISSION_PROFILE: "none" };
  const env = (extra: Record<string, string>) => ({ ...base, FAME_SECURITY_PROFILE: "open", ...extra });

  it("have documented defaults", () => {
    const c = sentinelConfigFromEnv(env({}));
    expect(c.maxChannelsPerClient).toBe(LIMIT_DEFAULTS.maxChannelsPerClient);
    expect(c.attachRatePerMin).toBe(LIMIT_DEFAULTS.attachRatePerMin);
    expect(c.maxPendingAttach).toBe(LIMIT_DEFAULTS.maxPendingAttach);
    expect(c.maxPendingAttachPerIp).toBe(LIMIT_DEFAULTS.maxPendingAttachPerIp);
    expect(c.connectionLimits).toEqual(DEFAULT_CONNECTION_LIMITS);
    expect(c.idleTimeoutMs).toBe(LIMIT_DEFAULTS.idleTimeoutMs);
  });

  it("read their FAME_* variables", () => {
    const c = sentinelConfigFromEnv(
      env({
        FAME_MAX_CHANNELS_PER_CLIENT: "8",
        FAME_ATTACH_RATE_PER_MIN: "20",
        FAME_MAX_PENDING_ATTACH: "16",
        FAME_MAX_PENDING_ATTACH_PER_IP: "4",
        FAME_MAX_HANDSHAKES: "100",
        FAME_MAX_HANDSHAKES_PER_IP: "10",
        FAME_TLS_HANDSHAKE_TIMEOUT_MS: "2000",
        FAME_IDLE_TIMEOUT_MS: "9000",
      }),
    );
    expect(c).toMatchObject({
      maxChannelsPerClient: 8,
      attachRatePerMin: 20,
      maxPendingAttach: 16,
      maxPendingAttachPerIp: 4,
      connectionLimits: { maxHandshakes: 100, maxHandshakesPerIp: 10, handshakeMs: 2000 },
      idleTimeoutMs: 9000,
    });
  });

  it.each([
    ["FAME_MAX_CHANNELS_PER_CLIENT", "0"],
    ["FAME_ATTACH_RATE_PER_MIN", "-1"],
    ["FAME_ATTACH_RATE_PER_MIN", "lots"],
    ["FAME_MAX_PENDING_ATTACH", "1.5"],
    ["FAME_MAX_PENDING_ATTACH_PER_IP", "0"],
    ["FAME_MAX_HANDSHAKES", "0"],
    ["FAME_MAX_HANDSHAKES_PER_IP", "many"],
    ["FAME_TLS_HANDSHAKE_TIMEOUT_MS", "50"],
    ["FAME_HTTP_REQUEST_TIMEOUT_MS", "3600000"],
    ["FAME_IDLE_TIMEOUT_MS", "10"],
    ["FAME_IDLE_TIMEOUT_MS", "5000"], // not longer than the 5000 ms heartbeat
  ])("refuse %s=%s naming the setting", (name, value) => {
    let caught: unknown;
    try {
      sentinelConfigFromEnv(env({ [name]: value }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toContain(name);
  });

  it("keep the idle timeout clear of a long heartbeat when it is not set", () => {
    expect(sentinelConfigFromEnv(env({ FAME_HEARTBEAT_MS: "120000" })).idleTimeoutMs).toBe(480_000);
  });
});

// ───────────── the sentinel core applying them ─────────────

function openSentinel(
  clock: { now: number },
  limits: {
    maxChannelsPerClient?: number;
    idleTimeoutMs?: number;
    maxInflightPerConnection?: number;
    maxInflightPerPrincipal?: number;
  },
) {
  const stickiness = new AFTLoadBalancerStickinessManager({ securityLevel: "signed-optional" });
  return new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 1000,
      heartbeatMissLimit: 100,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 100,
      ...limits,
    },
    {
      log: quiet,
      attach: new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" }),
      stickiness,
      now: () => clock.now,
    },
  );
}

async function attach(s: Sentinel, systemId: string, logicals: string[]) {
  const link = new FakeLink();
  const session = s.open(link);
  const env = makeEnvelope({
    sid: "pending",
    frame: { type: "NodeAttach", systemId, instanceId: `i-${systemId}`, logicals, keys: [] },
  });
  await s.receive(session, encodeEnvelope(env));
  expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: true });
  const send = async (init: Omit<Parameters<typeof makeEnvelope>[0], "sid">) => {
    const e = makeEnvelope({ sid: session.sid, ...init } as Parameters<typeof makeEnvelope>[0]);
    await s.receive(session, encodeEnvelope(e));
    return e;
  };
  return { link, session, send };
}

describe("Sentinel limits", () => {
  const ephPub = base64urlEncode(defaultBackend().x25519Keygen().publicKey);

  it("refuses a client's SecureOpen beyond its channel quota (pins + pending opens)", async () => {
    const s = openSentinel({ now: Date.now() }, { maxChannelsPerClient: 3 });
    const r = await attach(s, "r", ["*.fame.fabric"]);
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const c = await attach(s, "c", []);
    const other = await attach(s, "other", []);
    const replyTo = `rpc@${c.session.path}`;
    const open = (who: typeof c, cid: string) =>
      who.send({
        to: "math@fame.fabric",
        replyTo: `rpc@${who.session.path}`,
        corrId: cid,
        frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
      });
    await open(c, "c1");
    // accepted: the pending open becomes a pin, still one channel
    await r.send({ to: replyTo, corrId: "c1", frame: { type: "SecureAccept", cid: "c1", ok: true, ephPub } });
    expect(c.link.last().frame).toMatchObject({ type: "SecureAccept", ok: true });
    await open(c, "c2");
    await open(c, "c3");
    await open(c, "c4");
    expect(c.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "too_many_channels" });
    expect(c.link.last().meta).toMatchObject({ notExecuted: true });
    expect(r.link.sent.filter((e) => e.frame.type === "SecureOpen")).toHaveLength(3);
    expect(s.counters.channelQuotaRefused).toBe(1);
    // another client has its own quota
    await open(other, "o1");
    expect(r.link.sent.filter((e) => e.frame.type === "SecureOpen")).toHaveLength(4);
    // closing a channel frees its slot
    await c.send({ to: "math@fame.fabric", frame: { type: "SecureClose", cid: "c1" } });
    await open(c, "c5");
    expect(r.link.sent.filter((e) => e.frame.type === "SecureOpen")).toHaveLength(5);
  });

  it("bounds the requests in flight of one credential's connections together (audit round 11)", async () => {
    const s = openSentinel({ now: Date.now() }, { maxInflightPerConnection: 4, maxInflightPerPrincipal: 6 });
    const r = await attach(s, "r", ["*.fame.fabric"]);
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const mallory = [await attach(s, "m1", []), await attach(s, "m2", [])];
    const victim = await attach(s, "v", []);
    // admission none: nodes choose their system ids, so they share one key, whatever their ids
    expect(new Set([...mallory, victim].map((n) => n.session.credential))).toEqual(
      new Set(["admission:none"]),
    );
    // as two OAuth2 clients' nodes would be kept apart
    for (const m of mallory) m.session.credential = "client:mallory";
    victim.session.credential = "client:victim";
    const call = (c: (typeof mallory)[number], corrId: string) =>
      c.send({
        to: "math@fame.fabric",
        replyTo: `rpc@${c.session.path}`,
        corrId,
        frame: { type: "Data", codec: "json", payload: {} },
      });
    for (let i = 0; i < 4; i++) await call(mallory[0]!, `a${i}`);
    for (let i = 0; i < 2; i++) await call(mallory[1]!, `b${i}`);
    // each connection is within its own 4, yet the principal holds its 6
    await call(mallory[1]!, "b2");
    expect(mallory[1]!.link.last().frame).toMatchObject({
      type: "DeliveryAck",
      ok: false,
      code: "too_many_inflight",
    });
    expect(mallory[1]!.link.last().corrId).toBe("b2");
    // another principal's calls go through
    await call(victim, "v0");
    expect(r.link.sent.filter((e) => e.corrId === "v0")).toHaveLength(1);
    expect(s.inflight.countForCredential("client:mallory")).toBe(6);
  });

  it("a frame refused for too many requests in flight leaves no pending open behind", async () => {
    const s = openSentinel({ now: Date.now() }, { maxChannelsPerClient: 1, maxInflightPerConnection: 1 });
    const r = await attach(s, "r", ["*.fame.fabric"]);
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const c = await attach(s, "c", []);
    const replyTo = `rpc@${c.session.path}`;
    // one plaintext request in flight fills the connection's cap
    await c.send({
      to: "math@fame.fabric",
      replyTo,
      corrId: "q1",
      frame: { type: "Data", codec: "json", payload: {} },
    });
    const open = () =>
      c.send({
        to: "math@fame.fabric",
        replyTo,
        corrId: "o1",
        frame: { type: "SecureOpen", cid: "o1", ephPub, alg: "CHACHA20P1305" },
      });
    await open();
    expect(c.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "too_many_inflight" });
    // the request is answered: the same open now goes through, its refusal held no channel slot
    await r.send({ to: replyTo, corrId: "q1", frame: { type: "Data", codec: "json", payload: { ok: 1 } } });
    await open();
    expect(r.link.sent.filter((e) => e.frame.type === "SecureOpen")).toHaveLength(1);
    expect(s.counters.channelQuotaRefused).toBe(0);
  });

  it("frees quota held by opens nobody answered once they time out", async () => {
    const clock = { now: Date.now() };
    const s = openSentinel(clock, { maxChannelsPerClient: 2 });
    const r = await attach(s, "r", ["*.fame.fabric"]);
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const c = await attach(s, "c", []);
    const open = (cid: string) =>
      c.send({
        to: "math@fame.fabric",
        replyTo: `rpc@${c.session.path}`,
        corrId: cid,
        frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
      });
    await open("a");
    await open("a"); // the same cid again replaces, it does not count twice
    await open("b");
    await open("c");
    expect(c.link.last().frame).toMatchObject({ code: "too_many_channels" });
    clock.now += 31_000;
    await r.send({ frame: { type: "Heartbeat" } });
    await c.send({ frame: { type: "Heartbeat" } });
    s.sweep();
    await open("d");
    expect(c.link.last().frame.type).not.toBe("DeliveryAck");
    expect(s.status()).toMatchObject({ pendingOpens: 1 });
  });

  it("closes an attached connection that stays silent past the idle timeout; heartbeats keep one alive", async () => {
    const clock = { now: Date.now() };
    const s = openSentinel(clock, { idleTimeoutMs: 5000 });
    const quiet = await attach(s, "quiet", []);
    const chatty = await attach(s, "chatty", []);
    for (let t = 0; t < 8; t++) {
      clock.now += 1000;
      await chatty.send({ frame: { type: "Heartbeat" } });
      s.sweep();
    }
    expect(quiet.link.closed).toEqual({ code: CLOSE.idle, reason: "idle timeout" });
    expect(chatty.link.closed).toBeUndefined();
    expect(s.counters.idleClosed).toBe(1);
    expect(s.sessionCount).toBe(1);
  });

  it("closes a connection whose certificates all expired (it did not renew), and none that holds a valid one", async () => {
    const clock = { now: Date.now() };
    const s = openSentinel(clock, {});
    const lapsed = await attach(s, "lapsed", []);
    const renewed = await attach(s, "renewed", []);
    // strict-overlay keys carry their certificate's expiry (this sentinel's profile has none)
    const keyUntil = (kid: string, notAfter: number) => {
      const publicKey = ed25519PublicKeyOf(new Uint8Array(32).fill(kid.length));
      const verifyKey = defaultBackend().ed25519ImportVerifyKey(publicKey);
      return {
        kid,
        publicKey,
        verifyKey,
        jwk: { kty: "OKP" as const, crv: "Ed25519" as const, x: "", kid },
        notAfter,
      };
    };
    lapsed.session.keys.set("k1", keyUntil("k1", clock.now + 2000));
    renewed.session.keys.set("k1", keyUntil("k1", clock.now + 2000));
    renewed.session.keys.set("renewed", keyUntil("renewed", clock.now + 60_000));
    clock.now += 1000;
    s.sweep();
    expect(lapsed.link.closed).toBeUndefined();
    clock.now += 2000;
    await lapsed.send({ frame: { type: "Heartbeat" } });
    await renewed.send({ frame: { type: "Heartbeat" } });
    s.sweep();
    expect(lapsed.link.closed).toEqual({ code: CLOSE.policy, reason: "certificate expired: attach again" });
    expect(renewed.link.closed).toBeUndefined();
    // the renewed node's older key is gone: neither handed out nor taken any more
    expect([...renewed.session.keys.keys()]).toEqual(["renewed"]);
  });

  it("counts connections that have not attached yet", async () => {
    const s = openSentinel({ now: Date.now() }, {});
    const links = Array.from({ length: 3 }, () => new FakeLink());
    const sessions = links.map((l) => s.open(l));
    expect(s.attachingCount).toBe(3);
    await s.receive(
      sessions[0]!,
      encodeEnvelope(
        makeEnvelope({
          sid: "pending",
          frame: { type: "NodeAttach", systemId: "n", instanceId: "i", logicals: [], keys: [] },
        }),
      ),
    );
    expect(s.attachingCount).toBe(2);
    s.close(sessions[1]!, "gone");
    await s.receive(sessions[2]!, "{garbage");
    expect(s.attachingCount).toBe(0);
    expect(links[2]!.closed?.code).toBe(1008);
    s.close(sessions[0]!, "gone");
    expect(s.attachingCount).toBe(0);
  });
});
