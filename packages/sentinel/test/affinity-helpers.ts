import { type Envelope, encodeEnvelope, makeEnvelope } from "@fame/protocol";
import {
  type AFTLoadBalancerStickinessManager,
  AttachAuthority,
  type PoolPolicy,
  parsePoolPolicies,
  Sentinel,
} from "@fame/sentinel";
import { expect } from "vitest";

import { FakeLink, quietLogger as quiet } from "./fake-link.js";

export { FakeLink, quiet };

/** A manual clock: tests move time instead of sleeping. */
export class Clock {
  t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function makeSentinel(
  pools: unknown[],
  clock = new Clock(),
  stickiness?: AFTLoadBalancerStickinessManager,
): { s: Sentinel; clock: Clock } {
  const attach = new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" });
  const parsed: PoolPolicy[] = parsePoolPolicies(pools);
  const s = new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 60_000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 64,
      idleTimeoutMs: 3_600_000,
      pools: parsed,
    },
    { log: quiet, attach, now: clock.now, stickiness },
  );
  return { s, clock };
}

export interface TestNode {
  id: string;
  link: FakeLink;
  session: ReturnType<Sentinel["open"]>;
  send(init: Omit<Parameters<typeof makeEnvelope>[0], "sid">): Promise<Envelope>;
  /** a request to `to` carrying optional session meta; returns its corrId */
  call(to: string, corrId: string, meta?: Record<string, string | boolean>): Promise<Envelope>;
  /** answer the last request this node received */
  answerLast(result?: unknown): Promise<void>;
  /** Data frames received */
  data(): Envelope[];
}

export async function attachNode(s: Sentinel, systemId: string, logicals: string[] = []): Promise<TestNode> {
  const link = new FakeLink();
  const session = s.open(link);
  const attach = makeEnvelope({
    sid: "pending",
    frame: { type: "NodeAttach", systemId, instanceId: `i-${systemId}`, logicals, keys: [] },
  });
  await s.receive(session, encodeEnvelope(attach));
  expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: true });
  const node: TestNode = {
    id: systemId,
    link,
    session,
    async send(init) {
      const env = makeEnvelope({ sid: session.sid, ...init } as Parameters<typeof makeEnvelope>[0]);
      await s.receive(session, encodeEnvelope(env));
      return env;
    },
    call(to, corrId, meta) {
      return node.send({
        to,
        replyTo: `rpc@${session.path}`,
        corrId,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, method: "whoami" } },
        ...(meta ? { meta } : {}),
      });
    },
    async answerLast(result = "ok") {
      const req = link.frames("Data").at(-1);
      if (!req?.replyTo || !req.corrId) throw new Error("no request to answer");
      await node.send({
        to: req.replyTo,
        corrId: req.corrId,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: req.corrId, result } as never },
      });
    },
    data: () => link.frames("Data"),
  };
  return node;
}

/** Attach replicas that bind `address` as a pool (wildcard grant). */
export async function replicas(s: Sentinel, address: string, ids: string[]): Promise<TestNode[]> {
  const out: TestNode[] = [];
  for (const id of ids) {
    const r = await attachNode(s, id, ["*.fame.fabric"]);
    await r.send({ frame: { type: "AddressBind", address } });
    expect(r.link.last().frame).toMatchObject({ type: "AddressBindAck", ok: true });
    out.push(r);
  }
  return out;
}

/** Which replica received the Data request with this corrId (undefined: none). */
export function receiverOf(nodes: TestNode[], corrId: string): string | undefined {
  return nodes.find((n) => n.data().some((e) => e.corrId === corrId))?.id;
}

/** The negative DeliveryAck a client got for `corrId`, if any. */
export function nackOf(client: TestNode, corrId: string): { code?: string; reason?: string } | undefined {
  const env = client.link.frames("DeliveryAck").find((e) => e.corrId === corrId);
  return env?.frame.type === "DeliveryAck" ? { code: env.frame.code, reason: env.frame.reason } : undefined;
}
