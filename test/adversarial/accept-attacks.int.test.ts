import { randomBytes } from "node:crypto";
import { defaultBackend } from "@fame/crypto";
import { AftSigner } from "@fame/identity";
import { base64urlEncode, type Envelope, type SecureOpen } from "@fame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Arena } from "./support/arena.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import type { SentinelStatus } from "./support/lone-sentinel.js";

/**
 * A hostile replica in the pool answers channel opens with affinity tags that cannot be pinned
 * (signed with a key it never presented, or naming another client). Against a real sentinel and
 * a real replica (open profile, so signed-optional stickiness): every such accept is refused to
 * the client at once, the client opens again elsewhere, and no pin points at the hostile node.
 * A legitimate client with channel encryption calls throughout.
 */
const MATH = "math@fame.fabric";
const ephPub = () => base64urlEncode(defaultBackend().x25519Keygen().publicKey);

let arena: Arena;

beforeAll(async () => {
  arena = await Arena.open({});
}, 120_000);

afterAll(async () => {
  await arena?.close();
});

describe("SecureAccept from a hostile replica", () => {
  it("refuses accepts whose tag cannot pin, and the client's calls land on the honest replica", async () => {
    const evil = await arena.hostile("127.0.0.7", { systemId: "evil", logicals: ["*.fame.fabric"] });
    const bind = await evil.send({ frame: { type: "AddressBind", address: MATH } });
    expect(
      (await evil.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id)).frame,
    ).toMatchObject({
      ok: true,
    });
    const forger = new AftSigner(new Uint8Array(randomBytes(32)));
    const answered = new Set<string>();
    let answering = true;
    // answers every open it is handed: alternately a foreign-key tag and a tag for another client
    const answerer = (async () => {
      for (let i = 0; i < 200 && answering; i++) {
        const env = (await evil
          .waitFor((e) => e.frame.type === "SecureOpen" && !answered.has(e.frame.cid), 500)
          .catch(() => undefined)) as Envelope<SecureOpen> | undefined;
        if (env === undefined) continue;
        const cid = env.frame.cid;
        answered.add(cid);
        const clientSid = answered.size % 2 === 0 ? env.sid : "someoneElse000000000000";
        const aft = await forger.issue({ sid: evil.sid, cid, clientSid });
        await evil.send({
          to: env.replyTo!,
          corrId: env.corrId ?? cid,
          frame: { type: "SecureAccept", cid, ok: true, ephPub: ephPub(), aft },
        });
      }
    })();

    const { sentinel } = arena;
    const clients: LegitTraffic[] = [];
    let stickiness: SentinelStatus["stickiness"];
    try {
      // each client opens its own channel: round robin hands some of the opens to the hostile node
      for (let c = 0; c < 6; c++) {
        const client = await LegitTraffic.connect({
          ...sentinel.nodeEnv,
          FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
        });
        clients.push(client);
        for (let i = 0; i < 5; i++) await client.callOnce();
        expect(await client.stop()).toMatchObject({ calls: 5, ok: 5, failures: [] });
      }
      stickiness = (await sentinel.status()).stickiness;
    } finally {
      answering = false;
      await answerer;
      for (const c of clients) await c.close();
    }
    expect(answered.size).toBeGreaterThanOrEqual(1);
    expect(stickiness.verifyFailures).toBeGreaterThanOrEqual(answered.size);
    // every client's channel is pinned, and only to the honest replica
    expect(stickiness.perReplica).toEqual({ r1: 6 });
  });
});
