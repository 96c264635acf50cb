import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { encodeEnvelope, makeEnvelope, type NodeAttach } from "@fame/protocol";
import {
  AttachAuthority,
  type AttachVerifiers,
  FRAME_CLOSE,
  FRAME_DROP,
  FRAME_NACK,
  FRAME_OK,
  FrameBucket,
  FrameRateLimiter,
  NACK_EVERY,
  operatorAccess,
  Sentinel,
  sentinelConfigFromEnv,
} from "@fame/sentinel";
import { afterAll, describe, expect, it } from "vitest";
import { FakeLink, quietLogger } from "./fake-link.js";
import { attachNode } from "./test-node.js";

describe("FrameRateLimiter", () => {
  it("admits the burst at once, then the rate, and refuses the rest", () => {
    const limiter = new FrameRateLimiter({ perSec: 100, burst: 10 });
    const b = new FrameBucket();
    const verdicts = Array.from({ length: 12 }, () => limiter.admit(b, 1000));
    expect(verdicts.slice(0, 10)).toEqual(Array(10).fill(FRAME_OK));
    expect(verdicts[10]).toBe(FRAME_NACK); // the first refusal is answered
    expect(verdicts[11]).toBe(FRAME_DROP); // later ones only counted
    expect(b.refused).toBe(2);
    // 100/s: one token back every 10 ms, never more than the burst
    expect(limiter.admit(b, 1010)).toBe(FRAME_OK);
    expect(limiter.admit(b, 1010)).not.toBe(FRAME_OK);
    const later = 1010 + 60_000;
    expect(Array.from({ length: 10 }, () => limiter.admit(b, later))).toEqual(Array(10).fill(FRAME_OK));
    expect(limiter.admit(b, later)).not.toBe(FRAME_OK);
  });

  it("answers one refusal in NACK_EVERY, and closes a sustained flood", () => {
    const limiter = new FrameRateLimiter({ perSec: 100, burst: 10 });
    const b = new FrameBucket();
    const counts = { ok: 0, drop: 0, nack: 0, close: 0 };
    let now = 0;
    // 1000 frames per ms: far above 100/s
    for (let i = 0; i < 5000 && counts.close === 0; i++) {
      if (i % 1000 === 0) now++;
      const v = limiter.admit(b, now);
      if (v === FRAME_OK) counts.ok++;
      else if (v === FRAME_DROP) counts.drop++;
      else if (v === FRAME_NACK) counts.nack++;
      else counts.close++;
    }
    expect(limiter.closeAfter).toBe(1000);
    expect(counts.close).toBe(1);
    expect(counts.nack).toBe(1);
    expect(counts.ok).toBeLessThanOrEqual(12);
    expect(NACK_EVERY).toBeGreaterThan(100);
  });

  it("never closes a client slightly over its rate: admitted frames take strikes away", () => {
    const limiter = new FrameRateLimiter({ perSec: 1000, burst: 10 });
    const b = new FrameBucket();
    let closed = false;
    // 1.2 frames per ms (1200/s against 1000/s) for 100 s
    for (let t = 0; t < 100_000 && !closed; t++) {
      const n = t % 5 === 0 ? 2 : 1;
      for (let k = 0; k < n; k++) if (limiter.admit(b, t) === FRAME_CLOSE) closed = true;
    }
    expect(closed).toBe(false);
    expect(b.refused).toBeGreaterThan(0);
    expect(b.strikes).toBeLessThan(limiter.closeAfter);
  });
});

describe("operator endpoints", () => {
  const token = "t".repeat(32);
  const req = (authorization?: string, remoteAddress = "127.0.0.1") => ({ authorization, remoteAddress });

  it("drain needs the admin token, from loopback too, in every profile", () => {
    for (const profile of ["open", "overlay", "strict-overlay"] as const) {
      expect(operatorAccess("drain", req(), { token, profile })).toMatchObject({ ok: false, status: 401 });
      expect(operatorAccess("drain", req("Bearer wrong"), { token, profile })).toMatchObject({ status: 401 });
      expect(operatorAccess("drain", req(`Bearer ${token}`), { token, profile })).toEqual({ ok: true });
    }
  });

  it("says whether a token came: none sent, or one that is not this sentinel's (never echoing it)", () => {
    const describe = (authorization?: string) => {
      const v = operatorAccess("drain", req(authorization), { token, profile: "strict-overlay" });
      return v.ok ? "" : v.body.error_description;
    };
    expect(describe()).toMatch(/^no admin token sent/);
    expect(describe("Bearer wrong-token")).toMatch(/not this sentinel's FAME_SENTINEL_ADMIN_TOKEN/);
    expect(describe("Bearer wrong-token")).not.toContain("wrong-token");
    expect(describe("Basic abc")).toMatch(/not this sentinel's/);
  });

  it("status and metrics need it outside the open profile; open lets loopback read", () => {
    expect(operatorAccess("read", req(), { token, profile: "strict-overlay" })).toMatchObject({
      status: 401,
    });
    expect(operatorAccess("read", req(`Bearer ${token}`), { token, profile: "overlay" })).toEqual({
      ok: true,
    });
    expect(operatorAccess("read", req(), { token, profile: "open" })).toEqual({ ok: true });
    expect(operatorAccess("read", req(undefined, "10.0.0.5"), { token, profile: "open" })).toMatchObject({
      status: 401,
    });
  });

  it("with no token configured, refuses with 403 naming FAME_SENTINEL_ADMIN_TOKEN", () => {
    const v = operatorAccess("drain", req("Bearer anything"), { token: undefined, profile: "overlay" });
    expect(v).toMatchObject({ ok: false, status: 403 });
    if (!v.ok) expect(v.body.error_description).toContain("FAME_SENTINEL_ADMIN_TOKEN");
  });
});

describe("sentinel config: contradictions and the perimeter settings", () => {
  const dir = mkdtempSync(join(tmpdir(), "fame-perimeter-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = (text: string) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, text);
    return file;
  };
  const base = {
    FAME_CONFIG: "",
    FAME_DEV_INSECURE_HTTP: "1",
    FAME_SECURITY_PROFILE: "open",
    FAME_ADMISSION_PROFILE: "none",
  };
  const refusal = (env: Record<string, string>) => {
    try {
      sentinelConfigFromEnv(env);
    } catch (err) {
      if (err instanceof ConfigError) return { setting: err.setting, message: err.message };
      throw err;
    }
    return undefined;
  };

  it("refuses strict stickiness with the open profile, naming both", () => {
    const strict = yaml("node:\n  stickiness:\n    security_level: strict\n");
    const r = refusal({ ...base, FAME_CONFIG: strict });
    expect(r?.setting).toBe("node.stickiness.security_level");
    expect(r?.message).toContain("FAME_SECURITY_PROFILE");
    // a stickiness block with no level means strict too
    expect(
      refusal({ ...base, FAME_CONFIG: yaml("node:\n  stickiness:\n    default_ttl_sec: 60\n") })?.setting,
    ).toBe("node.stickiness.security_level");
    const relaxed = yaml("node:\n  stickiness:\n    security_level: signed-optional\n");
    expect(refusal({ ...base, FAME_CONFIG: relaxed })).toBeUndefined();
  });

  it("refuses bearer admission or an overlay profile over plain ws://, and a token nothing checks", () => {
    const welcome = refusal({
      ...base,
      FAME_ADMISSION_PROFILE: "welcome",
      FAME_WELCOME_JWKS_URL: "http://x/j",
    });
    expect(welcome?.setting).toBe("FAME_DEV_INSECURE_HTTP");
    expect(welcome?.message).toContain("FAME_ADMISSION_PROFILE");
    const overlay = refusal({ ...base, FAME_SECURITY_PROFILE: "overlay" });
    expect(overlay?.setting).toBe("FAME_DEV_INSECURE_HTTP");
    expect(overlay?.message).toContain("FAME_SECURITY_PROFILE");
    const unchecked = refusal({ ...base, FAME_ADMISSION_TOKEN: "x".repeat(20) });
    expect(unchecked?.setting).toBe("FAME_ADMISSION_TOKEN");
    expect(unchecked?.message).toContain("FAME_ADMISSION_PROFILE");
  });

  it("reads the frame rate, burst, session cap and admin token (inline or from a file)", () => {
    const tokenFile = join(dir, "admin-token");
    writeFileSync(tokenFile, `${"a".repeat(40)}\n`);
    const c = sentinelConfigFromEnv({
      ...base,
      FAME_MAX_FRAMES_PER_SEC: "500",
      FAME_FRAME_BURST: "50",
      FAME_MAX_SESSIONS: "3",
      FAME_SENTINEL_ADMIN_TOKEN_FILE: tokenFile,
    });
    expect(c).toMatchObject({
      maxFramesPerSec: 500,
      frameBurst: 50,
      maxSessions: 3,
      adminToken: "a".repeat(40),
    });
    expect(sentinelConfigFromEnv({ ...base, FAME_SENTINEL_ADMIN_TOKEN: "b".repeat(16) }).adminToken).toBe(
      "b".repeat(16),
    );
    expect(refusal({ ...base, FAME_SENTINEL_ADMIN_TOKEN: "short" })?.setting).toBe(
      "FAME_SENTINEL_ADMIN_TOKEN",
    );
    expect(refusal({ ...base, FAME_MAX_SESSIONS: "0" })?.setting).toBe("FAME_MAX_SESSIONS");
  });
});

describe("attach tickets are bound to their sentinel", () => {
  const verifiers = (assignedPath: string): AttachVerifiers => ({
    verifyTicket: async () => ({
      systemId: "n1",
      instanceId: "i1",
      assignedPath,
      acceptedLogicals: [],
      jti: "j1",
      exp: Math.floor(Date.now() / 1000) + 60,
    }),
    verifyChain: async () => {
      throw new Error("not used");
    },
    firstUse: () => true,
  });
  const attach = () =>
    makeEnvelope<NodeAttach>({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId: "n1",
        instanceId: "i1",
        logicals: [],
        keys: [],
        attachTicket: "t",
      },
    });

  it("refuses a ticket whose path names another sentinel with ticket_invalid", async () => {
    const authority = (path: string) =>
      new AttachAuthority({
        sentinelId: "sentinel1",
        securityProfile: "open",
        admissionProfile: "welcome",
        verifiers: verifiers(path),
      });
    expect(await authority("/sentinel0/n1").decide(attach())).toMatchObject({
      ok: false,
      code: "ticket_invalid",
    });
    // a sentinel id that is only a prefix of the path's segment is another sentinel too
    expect(await authority("/sentinel10/n1").decide(attach())).toMatchObject({
      ok: false,
      code: "ticket_invalid",
    });
    expect(await authority("/sentinel1/n1").decide(attach())).toMatchObject({ ok: true });
  });
});

describe("the sentinel core", () => {
  const sentinel = (limits: { maxSessions?: number; maxFramesPerSec?: number; frameBurst?: number }) =>
    new Sentinel(
      {
        sentinelId: "s0",
        securityProfile: "open",
        loadBalancing: "round_robin",
        heartbeatMs: 1000,
        heartbeatMissLimit: 3,
        attachTimeoutMs: 1000,
        maxFrameBytes: 64 * 1024,
        maxInflightPerConnection: 4,
        ...limits,
      },
      {
        log: quietLogger,
        attach: new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" }),
        // a clock that stands still: no token refills while the test runs
        now: () => 1_000_000,
      },
    );

  it("refuses attach beyond FAME_MAX_SESSIONS with too_many_sessions, but lets a node reconnect", async () => {
    const s = sentinel({ maxSessions: 2 });
    await attachNode(s, "a", [], "open");
    await attachNode(s, "b", [], "open");
    const link = new FakeLink();
    const session = s.open(link);
    const env = makeEnvelope({
      sid: "pending",
      frame: { type: "NodeAttach", systemId: "c", instanceId: "i-c", logicals: [], keys: [] },
    });
    await s.receive(session, encodeEnvelope(env));
    expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: false, code: "too_many_sessions" });
    expect(link.closed?.code).toBe(1008);
    expect(s.counters.sessionCapRefused).toBe(1);
    // the same node again replaces its own session: not a new one
    await attachNode(s, "a", [], "open");
    expect(s.sessionCount).toBe(2);
  });

  it("drops frames above the connection's rate before decoding them, answering the first", async () => {
    const s = sentinel({ maxFramesPerSec: 1, frameBurst: 5 });
    const node = await attachNode(s, "a", [], "open"); // the attach took one token
    const before = node.link.sent.length;
    for (let i = 0; i < 4; i++) await s.receive(node.session, "not json");
    expect(s.counters.badFrames).toBe(4);
    for (let i = 0; i < 20; i++) await s.receive(node.session, "not json");
    // refused frames are not even parsed: no more bad-frame answers, one rate_limited nack
    expect(s.counters.badFrames).toBe(4);
    expect(s.counters.rateLimited).toBe(20);
    const answers = node.link.sent.slice(before).map((e) => e.frame);
    expect(
      answers.filter((f) => f.type === "DeliveryAck" && !f.ok && f.code === "rate_limited"),
    ).toHaveLength(1);
    expect(node.link.closed).toBeUndefined();
  });
});
