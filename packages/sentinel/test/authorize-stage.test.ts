import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, type Envelope } from "@fame/protocol";
import {
  AFTLoadBalancerStickinessManager,
  AttachAuthority,
  type AuthorizeStage,
  type NodeSession,
  type Refusal,
  type RouteKind,
  type RouteRequest,
  Sentinel,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { quietLogger } from "./fake-link.js";
import { attachNode } from "./test-node.js";

const MATH = "math@fame.fabric";
const ephPub = base64urlEncode(defaultBackend().x25519Keygen().publicKey);
const NOT_YOURS: Refusal = Object.freeze({ code: "not_authorized", reason: "refused by policy" });

interface Seen {
  type: string;
  kind: RouteKind;
  target: string | undefined;
  address: string | undefined;
  pool: number | undefined;
  calls: number;
  cid: string | undefined;
}

/** Records what each frame would touch; refuses the frames `refuses` picks. */
class RecordingAuthorizer implements AuthorizeStage {
  readonly seen: Seen[] = [];
  refuses: (env: Envelope, route: RouteRequest) => boolean = () => false;

  authorize(sender: NodeSession, env: Envelope, route: RouteRequest): Refusal | undefined {
    expect(route.session).toBe(sender);
    expect(route.env).toBe(env);
    this.seen.push({
      type: env.frame.type,
      kind: route.kind,
      target: route.target?.systemId,
      address: route.address,
      pool: route.pool?.size,
      calls: route.calls,
      cid: route.cid,
    });
    return this.refuses(env, route) ? NOT_YOURS : undefined;
  }
}

function sentinelWith(authorize: AuthorizeStage, maxChannelsPerClient = 8): Sentinel {
  const attach = new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" });
  return new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 1000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 16,
      maxChannelsPerClient,
    },
    {
      log: quietLogger,
      attach,
      authorize,
      // signed-optional pins an accept without an AFT, which the open profile cannot sign
      stickiness: new AFTLoadBalancerStickinessManager({ securityLevel: "signed-optional" }),
    },
  );
}

async function fabric(authz: RecordingAuthorizer, maxChannelsPerClient?: number) {
  const s = sentinelWith(authz, maxChannelsPerClient);
  const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
  await r.send({ frame: { type: "AddressBind", address: MATH } });
  const c = await attachNode(s, "c", [], "open");
  const replyTo = `rpc@${c.session.path}`;
  const call = (corrId: string) =>
    c.send({
      to: MATH,
      replyTo,
      corrId,
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, method: "whoami" } },
    });
  const open = (cid: string) =>
    c.send({
      to: MATH,
      replyTo,
      corrId: cid,
      frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
    });
  const accept = (cid: string) =>
    r.send({ to: replyTo, corrId: cid, frame: { type: "SecureAccept", cid, ok: true, ephPub } });
  return { s, r, c, call, open, accept };
}

function lastAck(env: Envelope) {
  return { frame: env.frame, meta: env.meta };
}

describe("authorize stage", () => {
  it("sees each frame once with what it would touch, after authentication and before routing", async () => {
    const authz = new RecordingAuthorizer();
    const { c, call, open, accept } = await fabric(authz);
    authz.seen.length = 0;
    await c.send({ frame: { type: "Heartbeat" } });
    await call("q1");
    await open("ch1");
    await accept("ch1");
    expect(authz.seen).toEqual([
      {
        type: "Heartbeat",
        kind: "control",
        target: undefined,
        address: undefined,
        pool: undefined,
        calls: 0,
        cid: undefined,
      },
      { type: "Data", kind: "logical", target: undefined, address: MATH, pool: 1, calls: 1, cid: undefined },
      {
        type: "SecureOpen",
        kind: "logical",
        target: undefined,
        address: MATH,
        pool: 1,
        calls: 1,
        cid: "ch1",
      },
      {
        type: "SecureAccept",
        kind: "physical",
        target: "c",
        address: undefined,
        pool: undefined,
        calls: 0,
        cid: "ch1",
      },
    ]);
  });

  it("refuses a call with its code, not executed, leaving no in-flight entry, pool load or route behind", async () => {
    const authz = new RecordingAuthorizer();
    const { s, r, c, call } = await fabric(authz);
    authz.refuses = (env) => env.frame.type === "Data";
    const routed = s.counters.routed;
    await call("q1");
    expect(lastAck(c.link.last())).toEqual({
      frame: expect.objectContaining({
        type: "DeliveryAck",
        ok: false,
        code: "not_authorized",
        reason: "refused by policy",
      }),
      meta: { notExecuted: true },
    });
    expect(c.link.last().corrId).toBe("q1");
    expect(r.link.frames("Data")).toHaveLength(0);
    expect(s.inflight.size).toBe(0);
    expect(s.counters.routed).toBe(routed);
    expect(s.registry.resolve(MATH)?.member("r")?.inflight).toBe(0);
  });

  it("refuses a SecureOpen without a pending open: the channel quota stays free", async () => {
    const authz = new RecordingAuthorizer();
    const { s, r, c, open } = await fabric(authz, 1);
    authz.refuses = (env) => env.frame.type === "SecureOpen";
    await open("ch1");
    expect(c.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "not_authorized" });
    expect(r.link.frames("SecureOpen")).toHaveLength(0);
    expect(s.status()["pendingOpens"]).toBe(0);
    authz.refuses = () => false;
    await open("ch2");
    expect(r.link.frames("SecureOpen")).toHaveLength(1);
    expect(s.status()["pendingOpens"]).toBe(1);
  });

  it("refuses a replica's SecureClose to the client: the channel stays pinned", async () => {
    const authz = new RecordingAuthorizer();
    const { s, r, c, open, accept } = await fabric(authz);
    await open("ch1");
    await accept("ch1");
    expect(c.link.frames("SecureAccept")).toHaveLength(1);
    const pins = () => (s.status()["stickiness"] as { size: number }).size;
    expect(pins()).toBe(1);
    authz.refuses = (env, route) => env.frame.type === "SecureClose" && route.kind === "physical";
    await r.send({ to: `rpc@${c.session.path}`, frame: { type: "SecureClose", cid: "ch1" } });
    expect(r.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "not_authorized" });
    expect(c.link.frames("SecureClose")).toHaveLength(0);
    expect(pins()).toBe(1);
    authz.refuses = () => false;
    await r.send({ to: `rpc@${c.session.path}`, frame: { type: "SecureClose", cid: "ch1" } });
    expect(c.link.frames("SecureClose")).toHaveLength(1);
    expect(pins()).toBe(0);
  });

  it("refuses a control frame: no answer from the sentinel but the nack", async () => {
    const authz = new RecordingAuthorizer();
    const { c } = await fabric(authz);
    authz.refuses = (env) => env.frame.type === "Heartbeat";
    await c.send({ frame: { type: "Heartbeat" } });
    expect(c.link.frames("HeartbeatAck")).toHaveLength(0);
    expect(c.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "not_authorized" });
  });
});
