import { defaultBackend } from "@fame/crypto";
import { AftSigner } from "@fame/identity";
import type { Logger } from "@fame/logger";
import {
  base64urlEncode,
  type Envelope,
  ed25519KeyId,
  encodeEnvelope,
  makeEnvelope,
  signingInput,
} from "@fame/protocol";
import { type AFTLoadBalancerStickinessManager, AttachAuthority, Sentinel } from "@fame/sentinel";
import { expect } from "vitest";
import { FakeLink, quietLogger } from "./fake-link.js";

/** Sentinel unit tests drive the core directly: fake links, real keys and signatures. */

const backend = defaultBackend();

export type Profile = "open" | "overlay";

export function makeSentinel(
  profile: Profile,
  stickiness?: AFTLoadBalancerStickinessManager,
  maxInflight = 4,
  loadBalancing: "round_robin" | "least_inflight" = "round_robin",
  limits: { maxChannelsPerClient?: number } = {},
  log: Logger = quietLogger,
): Sentinel {
  const attach = new AttachAuthority({
    sentinelId: "s0",
    securityProfile: profile,
    admissionProfile: "none",
  });
  return new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: profile,
      loadBalancing,
      heartbeatMs: 1000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: maxInflight,
      ...limits,
    },
    { log, attach, stickiness },
  );
}

export interface TestNode<L extends FakeLink = FakeLink> {
  link: L;
  session: ReturnType<Sentinel["open"]>;
  seed: Uint8Array;
  kid: string;
  /** signs (outside the open profile) and delivers a frame */
  send(
    init: Parameters<typeof makeEnvelope>[0] | Omit<Parameters<typeof makeEnvelope>[0], "sid">,
  ): Promise<Envelope>;
  /** delivers an envelope's text as is, e.g. sealed data, which travels unsigned */
  sendRaw(env: Envelope): Promise<string>;
}

/** A node attached to `s` over `link`, with its own Ed25519 key (none in the open profile). */
export async function attachNode<L extends FakeLink = FakeLink>(
  s: Sentinel,
  systemId: string,
  logicals: string[],
  profile: Profile,
  link: L = new FakeLink() as L,
  capabilities: string[] = [],
  keySeed?: Uint8Array,
  name?: string,
): Promise<TestNode<L>> {
  const session = s.open(link);
  const seed = keySeed ?? backend.ed25519Keygen().seed;
  const key = backend.ed25519ImportSigningKey(seed);
  const publicKey = key.publicKey;
  const kid = ed25519KeyId(publicKey);
  const sign = (env: Envelope) => {
    if (profile !== "open") {
      env.sec = {
        ...env.sec,
        sig: { alg: "EdDSA", kid, val: base64urlEncode(backend.ed25519Sign(key, signingInput(env))) },
      };
    }
    return env;
  };
  const attach = sign(
    makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId,
        instanceId: `i-${systemId}`,
        logicals,
        keys: profile === "open" ? [] : [{ kty: "OKP", crv: "Ed25519", x: base64urlEncode(publicKey), kid }],
        ...(capabilities.length > 0 ? { capabilities } : {}),
        ...(name === undefined ? {} : { name }),
      },
    }),
  );
  await s.receive(session, encodeEnvelope(attach));
  expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: true });
  return {
    link,
    session,
    seed,
    kid,
    async send(init) {
      const env = sign(makeEnvelope({ sid: session.sid, ...init } as Parameters<typeof makeEnvelope>[0]));
      await s.receive(session, encodeEnvelope(env));
      return env;
    },
    async sendRaw(env) {
      const text = encodeEnvelope(env);
      await s.receive(session, Buffer.from(text));
      return text;
    },
  };
}

/** the affinity tag `replica` signs for channel `cid` of `client` */
export function issueAft(replica: TestNode, client: TestNode, cid: string): Promise<string> {
  return new AftSigner(replica.seed).issue({ sid: replica.session.sid, cid, clientSid: client.session.sid });
}

/** `replica` accepts the channel `cid` that `client` opened (under `corrId`), with a real AFT */
export async function acceptChannel(
  replica: TestNode,
  client: TestNode,
  cid: string,
  ephPub: string,
  corrId: string,
): Promise<Envelope> {
  const aft = await issueAft(replica, client, cid);
  return replica.send({
    to: `rpc@${client.session.path}`,
    corrId,
    frame: { type: "SecureAccept", cid, ok: true, ephPub, aft },
  });
}
