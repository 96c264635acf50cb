import { randomBytes } from "node:crypto";
import {
  type AftClaims,
  type AftExpectation,
  AftSigner,
  checkUnsignedAft,
  ed25519PublicKeyOf,
  joseKeyFromPublic,
  joseKeyFromSeed,
  signAft,
  unsignedAft,
  verifyAft,
} from "@fame/identity";
import { CompactSign } from "jose";
import { describe, expect, it } from "vitest";

const NOW = 1_750_000_000_000;
const nowSec = NOW / 1000;
const seed = new Uint8Array(randomBytes(32));
const pub = ed25519PublicKeyOf(seed);
const otherSeed = new Uint8Array(randomBytes(32));

const claims = (over: Partial<AftClaims> = {}): AftClaims => ({
  sid: "replica-sid",
  cid: "chan-1",
  client_sid: "client-sid",
  scp: "channel",
  iat: nowSec - 10,
  exp: nowSec + 600,
  ...over,
});
const expect_: AftExpectation = { sid: "replica-sid", cid: "chan-1", clientSid: "client-sid", nowMs: NOW };

describe("AFT signing and verification", () => {
  it("round-trips with signAft and a raw or imported public key", async () => {
    const token = await signAft(claims(), seed);
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
    expect(header).toEqual({ alg: "EdDSA", typ: "fame-aft+jwt" });
    expect(await verifyAft(token, pub, expect_)).toEqual({ ok: true, claims: claims(), signed: true });
    expect((await verifyAft(token, await joseKeyFromPublic(pub), expect_)).ok).toBe(true);
  });

  it("AftSigner issues tags from its clock and ttl", async () => {
    const signer = new AftSigner(seed, { now: () => NOW, ttlSec: 120 });
    const token = await signer.issue({ sid: "replica-sid", cid: "chan-1", clientSid: "client-sid" });
    const result = await verifyAft(token, pub, expect_);
    expect(result).toMatchObject({ ok: true, claims: { iat: nowSec, exp: nowSec + 120, scp: "channel" } });
    expect(() => new AftSigner(new Uint8Array(31))).toThrow(RangeError);
  });

  it("refuses a tag signed by another key or tampered with", async () => {
    expect(await verifyAft(await signAft(claims(), otherSeed), pub, expect_)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    const token = await signAft(claims(), seed);
    const [h, , s] = token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify(claims({ exp: nowSec + 6000 }))).toString("base64url");
    expect(await verifyAft(`${h}.${forgedPayload}.${s}`, pub, expect_)).toMatchObject({
      reason: "bad_signature",
    });
    expect(await verifyAft(`${h}.${token.split(".")[1]}.`, pub, expect_)).toMatchObject({
      reason: "bad_signature",
    });
  });

  it("refuses unsigned tags, other algorithms and other types", async () => {
    expect(await verifyAft(unsignedAft(claims()), pub, expect_)).toEqual({ ok: false, reason: "unsigned" });
    const key = await joseKeyFromSeed(seed);
    const payload = new TextEncoder().encode(JSON.stringify(claims()));
    const noTyp = await new CompactSign(payload).setProtectedHeader({ alg: "EdDSA" }).sign(key);
    expect(await verifyAft(noTyp, pub, expect_)).toMatchObject({ reason: "bad_typ" });
    const hs = await new CompactSign(payload)
      .setProtectedHeader({ alg: "HS256", typ: "fame-aft+jwt" })
      .sign(new Uint8Array(32).fill(1));
    expect(await verifyAft(hs, pub, expect_)).toMatchObject({ reason: "bad_alg" });
  });

  it("checks every claim against the channel", async () => {
    const cases: [Partial<AftClaims>, string][] = [
      [{ sid: "other" }, "sid_mismatch"],
      [{ cid: "chan-2" }, "cid_mismatch"],
      [{ client_sid: "mallory" }, "client_sid_mismatch"],
      [{ scp: "session" as "channel" }, "bad_scope"],
      [{ iat: nowSec - 4000, exp: nowSec - 31 }, "expired"],
      [{ iat: nowSec + 60, exp: nowSec + 600 }, "issued_in_future"],
      [{ iat: nowSec, exp: nowSec + 86_401 }, "lifetime_too_long"],
      [{ exp: nowSec - 20 }, "malformed"],
    ];
    for (const [over, reason] of cases) {
      expect(await verifyAft(await signAft(claims(over), seed), pub, expect_), reason).toEqual({
        ok: false,
        reason,
      });
    }
    // Within the clock skew both ends are tolerated.
    const skewed = await signAft(claims({ iat: nowSec + 20, exp: nowSec + 25 }), seed);
    expect((await verifyAft(skewed, pub, expect_)).ok).toBe(true);
    const late = await signAft(claims({ iat: nowSec - 100, exp: nowSec - 10 }), seed);
    expect((await verifyAft(late, pub, expect_)).ok).toBe(true);
    expect(await verifyAft(late, pub, { ...expect_, clockSkewSec: 0 })).toMatchObject({ reason: "expired" });
  });

  it("refuses malformed and oversized input without throwing", async () => {
    for (const bad of [
      "",
      "a.b",
      "a.b.c.d",
      "!!.??.",
      "e30.e30.",
      "bm90LWpzb24.e30.",
      `${"a".repeat(5000)}.e30.`,
    ]) {
      const r = await verifyAft(bad, pub, expect_);
      expect(r.ok, bad.slice(0, 20)).toBe(false);
    }
    expect(await verifyAft(`${"a".repeat(5000)}.e30.`, pub, expect_)).toMatchObject({ reason: "too_large" });
    expect(await verifyAft(42 as unknown as string, pub, expect_)).toMatchObject({ reason: "malformed" });
    expect(await verifyAft(await signAft(claims(), seed), new Uint8Array(5), expect_)).toMatchObject({
      reason: "no_replica_key",
    });
  });

  it("checkUnsignedAft accepts alg:none tags on matching claims only", () => {
    expect(checkUnsignedAft(unsignedAft(claims()), expect_)).toEqual({
      ok: true,
      claims: claims(),
      signed: false,
    });
    expect(checkUnsignedAft(unsignedAft(claims({ cid: "x" })), expect_)).toMatchObject({
      reason: "cid_mismatch",
    });
    expect(checkUnsignedAft(`${unsignedAft(claims())}sig`, expect_)).toMatchObject({ reason: "malformed" });
  });
});
