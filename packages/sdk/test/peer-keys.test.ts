import { decodeEnvelope, encodeEnvelope, makeEnvelope, payloadDigest } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { NodeSigner } from "../src/connection/node-signer.js";
import { type KeyVetter, PeerKeyDirectory } from "../src/connection/peer-keys.js";

/** vets every key for the sid it is announced with, as the overlay profile's directory does */
const trustAll: KeyVetter = (_jwk, sid) => Promise.resolve({ sid, notAfter: Date.now() + 3_600_000 });

describe("PeerKeyDirectory", () => {
  it("learns a key only under its own id: another node's kid on an insider's key is not cached", async () => {
    const owner = NodeSigner.generate();
    const insider = NodeSigner.generate();
    const dir = new PeerKeyDirectory(trustAll);
    const squatted = await dir.learn([{ ...insider.jwk, kid: owner.kid }], "insider-sid");
    expect(squatted).toEqual([]);
    expect(dir.get(owner.kid)).toBeUndefined();
    const [learned] = await dir.learn([owner.jwk], "owner-sid");
    expect(learned?.sid).toBe("owner-sid");
    expect(dir.get(owner.kid)?.sid).toBe("owner-sid");
  });

  it("fails a signed clear Data whose payload was swapped under a declared digest of the original", async () => {
    const alice = NodeSigner.generate();
    const dir = new PeerKeyDirectory(trustAll);
    const [key] = await dir.learn([alice.jwk], "AliceSid");
    const env = alice.sign(
      makeEnvelope({
        sid: "AliceSid",
        to: "rpc@/s0/Bob",
        corrId: "c1",
        frame: {
          type: "Data",
          codec: "json",
          payload: { method: "transfer", params: { to: "bob", amount: 1 } },
        },
      }),
    );
    expect(dir.verify(decodeEnvelope(encodeEnvelope(env)), key!)).toBe("ok");
    const tampered = decodeEnvelope(encodeEnvelope(env));
    if (tampered.frame.type !== "Data" || tampered.frame.codec !== "json") throw new Error("not clear Data");
    tampered.frame.pd = payloadDigest(env.frame);
    tampered.frame.payload = { method: "transfer", params: { to: "mallory", amount: 1_000_000 } };
    expect(dir.verify(decodeEnvelope(encodeEnvelope(tampered)), key!)).toBe("bad_signature");
  });

  it("keeps a node's identity while any key of it lives: the latest one expiring leaves the other's", async () => {
    let now = 1_000_000;
    const expiries = new Map<string, number>();
    const vet: KeyVetter = (jwk, sid) =>
      Promise.resolve({ sid, notAfter: expiries.get(jwk.kid)!, principal: "team-a", systemId: "n1" });
    const dir = new PeerKeyDirectory(vet, undefined, 10_000, () => now);
    const long = NodeSigner.generate();
    const short = NodeSigner.generate();
    expiries.set(long.kid, now + 3_600_000);
    expiries.set(short.kid, now + 60_000);
    await dir.learn([long.jwk], "sid1");
    await dir.learn([short.jwk], "sid1"); // learned last: it names the sid now
    now += 61_000;
    expect(dir.get(short.kid)).toBeUndefined(); // expired: dropped
    expect(dir.identityOf("sid1")).toMatchObject({ sid: "sid1", principal: "team-a" });
    now += 3_600_000;
    expect(dir.get(long.kid)).toBeUndefined();
    expect(dir.identityOf("sid1")).toBeUndefined();
  });
});
