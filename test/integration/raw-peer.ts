import type { Admission } from "@fame/identity";
import {
  decodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  encodeEnvelope,
  type Frame,
  makeEnvelope,
  newId,
} from "@fame/protocol";
import { NodeSigner } from "@fame/sdk";
import { admitRawNode, type FabricStack, RawNode } from "@fame/testkit";
import { expect } from "vitest";

/**
 * Protocol-level helpers over testkit's RawNode for the adversarial tests: real
 * admission, hand-built NodeAttach, and a "peer" that signs whatever it is told
 * to send with its certificate key (or not, or after tampering).
 */

export interface Identity {
  adm: Admission;
  instanceId: string;
  signer: NodeSigner;
}

export interface Peer {
  node: RawNode<Envelope>;
  signer: NodeSigner;
  id: Identity;
  sid: string;
  path: string;
  replyTo: string;
  /** builds, signs (unless `unsigned`) and sends; returns what was sent */
  send(init: Omit<EnvelopeInit<Frame>, "sid">, opts?: { unsigned?: boolean }): Promise<Envelope>;
  /** sends an envelope exactly as given (already signed, tampered, replayed…) */
  post(env: Envelope): Promise<void>;
  /** the first envelope answering `env` (same conversation, not `env` itself) */
  answerTo(env: Envelope, timeoutMs?: number): Promise<Envelope>;
  /** a signed Heartbeat every `ms`, so a long-lived raw node is not dropped as silent */
  keepAlive(ms?: number): void;
  close(): Promise<void>;
}

export function attachEnvelope(o: {
  signer: NodeSigner;
  systemId: string;
  instanceId: string;
  ticket?: string | undefined;
  logicals: string[];
}): Envelope {
  return o.signer.sign(
    makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId: o.systemId,
        instanceId: o.instanceId,
        logicals: o.logicals,
        keys: [o.signer.jwk],
        ...(o.ticket ? { attachTicket: o.ticket } : {}),
      },
    }),
  );
}

export function rawPeers(stack: () => FabricStack) {
  const nodes: RawNode<Envelope>[] = [];
  const timers: NodeJS.Timeout[] = [];

  /** real admission: a fresh identity, a single-use ticket and a certificate */
  async function identity(logicals = ["*.fame.fabric"]): Promise<Identity> {
    const instanceId = `raw_${newId()}`;
    const adm = await admitRawNode(stack().nodeEnv, { logicals, instanceId });
    return { adm, instanceId, signer: new NodeSigner(adm.seed, adm.x5c) };
  }

  async function connect(): Promise<RawNode<Envelope>> {
    const node = await RawNode.connect<Envelope>({
      url: stack().urls.attach,
      ca: stack().trustBundle,
      decode: (text) => decodeEnvelope(text),
    });
    nodes.push(node);
    return node;
  }

  async function attachWith(env: Envelope): Promise<{ node: RawNode<Envelope>; ack: Envelope }> {
    const node = await connect();
    await node.send(encodeEnvelope(env));
    const ack = await node.waitFor((m) => m.frame.type === "NodeAttachAck");
    return { node, ack };
  }

  async function attachedPeer(id: Identity): Promise<Peer> {
    const { node, ack } = await attachWith(
      attachEnvelope({
        signer: id.signer,
        systemId: id.adm.systemId,
        instanceId: id.instanceId,
        ticket: id.adm.attachTicket,
        logicals: id.adm.acceptedLogicals,
      }),
    );
    expect(ack.frame).toMatchObject({ type: "NodeAttachAck", ok: true, assignedPath: id.adm.assignedPath });
    const sid = id.adm.sid;
    let timer: NodeJS.Timeout | undefined;
    const post = (env: Envelope) => node.send(encodeEnvelope(env));
    return {
      node,
      signer: id.signer,
      id,
      sid,
      path: id.adm.assignedPath,
      replyTo: `rpc@${id.adm.assignedPath}`,
      async send(init, opts = {}) {
        const env = makeEnvelope({ ...init, sid } as EnvelopeInit<Frame>);
        if (!opts.unsigned) id.signer.sign(env);
        await post(env);
        return env;
      },
      post,
      answerTo: (env, timeoutMs) =>
        node.waitFor((m) => m.corrId === (env.corrId ?? env.id) && m.id !== env.id, timeoutMs),
      keepAlive(ms = 2000) {
        timer = setInterval(() => {
          if (!node.isOpen) return;
          post(id.signer.sign(makeEnvelope({ sid, frame: { type: "Heartbeat" } }))).catch(() => undefined);
        }, ms);
        timer.unref();
        timers.push(timer);
      },
      async close() {
        clearInterval(timer);
        await node.close();
      },
    };
  }

  return {
    identity,
    connect,
    attachWith,
    attachedPeer,
    async closeAll() {
      for (const t of timers) clearInterval(t);
      for (const n of nodes) await n.close();
    },
  };
}
