import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { sidFromPath } from "@fame/protocol";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  generateSigningKey,
  loadPublicJwksFile,
  loadSigningKeyFile,
  publicJwks,
  type SigningKey,
  signAccessToken,
  signAttachTicket,
  signCaGrant,
  TokenError,
  verifyAccessToken,
  verifyAttachTicket,
  verifyCaGrant,
} from "../src/tokens/index.js";

const OAUTH = { issuer: "https://oauth.test", audience: "fame.fabric" };
const WELCOME = { issuer: "https://welcome.test", audience: "fame-sentinel" };
const identity = {
  systemId: "abcDEF123",
  assignedPath: "/sentinel0/abcDEF123",
  acceptedLogicals: ["*.fame.fabric", "svc.fame.fabric"],
  instanceId: "inst-1",
};

let key: SigningKey;
let other: SigningKey;
beforeAll(async () => {
  key = await generateSigningKey("k1");
  other = await generateSigningKey("k1"); // same kid, different key: a forgery attempt
});

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenError);
  expect((err as TokenError).code).toBe(code);
}

describe("access tokens", () => {
  it("sign → verify round trip with typed claims", async () => {
    const { token, claims } = await signAccessToken(key, {
      ...OAUTH,
      clientId: "node-a",
      scopes: ["node.connect"],
      ttlSec: 60,
    });
    const v = await verifyAccessToken(token, {
      ...OAUTH,
      keys: publicJwks([key]),
      requiredScopes: ["node.connect"],
    });
    expect(v).toEqual(claims);
    expect(v.sub).toBe("node-a");
    expect(v.scopes).toEqual(["node.connect"]);
    expect(v.exp - v.iat).toBe(60);
  });

  it("refuses to sign a scope claim its verifier would refuse", async () => {
    // 32 scopes of 64 characters: each valid, together longer than a scope claim may be.
    const scopes = Array.from({ length: 32 }, (_, i) => `${i}`.padStart(64, "s"));
    await rejects(signAccessToken(key, { ...OAUTH, clientId: "c", scopes, ttlSec: 60 }), "token_invalid");
    await rejects(
      signAccessToken(key, { ...OAUTH, clientId: "c", scopes: ["a b"], ttlSec: 60 }),
      "token_invalid",
    );
  });

  it("refuses expired, wrong audience, wrong issuer, forged, missing scope", async () => {
    const { token } = await signAccessToken(key, {
      ...OAUTH,
      clientId: "node-a",
      scopes: ["other"],
      ttlSec: 60,
      now: Date.now() - 3600_000,
    });
    await rejects(verifyAccessToken(token, { ...OAUTH, keys: publicJwks([key]) }), "token_expired");
    const fresh = (
      await signAccessToken(key, { ...OAUTH, clientId: "node-a", scopes: ["other"], ttlSec: 60 })
    ).token;
    await rejects(
      verifyAccessToken(fresh, { ...OAUTH, audience: "x", keys: publicJwks([key]) }),
      "token_wrong_audience",
    );
    await rejects(
      verifyAccessToken(fresh, { ...OAUTH, issuer: "https://evil", keys: publicJwks([key]) }),
      "token_wrong_issuer",
    );
    await rejects(verifyAccessToken(fresh, { ...OAUTH, keys: publicJwks([other]) }), "token_invalid");
    await rejects(
      verifyAccessToken(fresh, { ...OAUTH, keys: publicJwks([key]), requiredScopes: ["node.connect"] }),
      "token_missing_scope",
    );
  });

  it("tolerates clock skew within the tolerance only", async () => {
    const now = Date.now();
    const { token } = await signAccessToken(key, { ...OAUTH, clientId: "c", scopes: ["s"], ttlSec: 10, now });
    const opts = { ...OAUTH, keys: publicJwks([key]), clockToleranceSec: 5 };
    await expect(verifyAccessToken(token, { ...opts, now: now + 14_000 })).resolves.toBeTruthy();
    await rejects(verifyAccessToken(token, { ...opts, now: now + 16_000 }), "token_expired");
    await rejects(verifyAccessToken(token, { ...opts, now: now - 60_000 }), "token_not_yet_valid");
  });

  it("refuses garbage, oversized and unsigned tokens", async () => {
    const keys = publicJwks([key]);
    await rejects(verifyAccessToken("", { ...OAUTH, keys }), "token_invalid");
    await rejects(verifyAccessToken("a.b.c", { ...OAUTH, keys }), "token_invalid");
    await rejects(verifyAccessToken("x".repeat(9000), { ...OAUTH, keys }), "token_invalid");
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url");
    const body = Buffer.from(JSON.stringify({ iss: OAUTH.issuer })).toString("base64url");
    await rejects(verifyAccessToken(`${header}.${body}.`, { ...OAUTH, keys }), "token_invalid");
  });
});

describe("attach tickets and CA grants", () => {
  it("round trip; sid matches the path", async () => {
    const { token } = await signAttachTicket(key, { ...WELCOME, ...identity, ttlSec: 120 });
    const c = await verifyAttachTicket(token, { ...WELCOME, keys: publicJwks([key]) });
    expect(c.system_id).toBe(identity.systemId);
    expect(c.sub).toBe(identity.systemId);
    expect(c.sid).toBe(sidFromPath(identity.assignedPath));
    expect(c.accepted_logicals).toEqual(identity.acceptedLogicals);
    expect(c.instance_id).toBe("inst-1");

    const grant = await signCaGrant(key, { issuer: WELCOME.issuer, ...identity, ttlSec: 60 });
    const g = await verifyCaGrant(grant.token, { issuer: WELCOME.issuer, keys: publicJwks([key]) });
    expect(g.aud).toBe("fame-ca");
    expect(g.jti).toBe(grant.claims.jti);
  });

  it("kinds cannot stand in for each other (typ)", async () => {
    const keys = publicJwks([key]);
    const at = await signAccessToken(key, { ...WELCOME, clientId: "c", scopes: ["s"], ttlSec: 60 });
    await rejects(verifyAttachTicket(at.token, { ...WELCOME, keys }), "token_wrong_type");
    const ticket = await signAttachTicket(key, {
      ...identity,
      issuer: WELCOME.issuer,
      audience: "fame-ca",
      ttlSec: 60,
    });
    await rejects(verifyCaGrant(ticket.token, { issuer: WELCOME.issuer, keys }), "token_wrong_type");
    const grant = await signCaGrant(key, {
      ...identity,
      issuer: WELCOME.issuer,
      audience: WELCOME.audience,
      ttlSec: 60,
    });
    await rejects(verifyAttachTicket(grant.token, { ...WELCOME, keys }), "token_wrong_type");
    await rejects(verifyAccessToken(grant.token, { ...WELCOME, keys }), "token_wrong_type");
  });

  it("refuses wrong audience, forged and expired tickets", async () => {
    const { token } = await signAttachTicket(key, { ...WELCOME, ...identity, ttlSec: 120 });
    await rejects(
      verifyAttachTicket(token, { ...WELCOME, audience: "fame-ca", keys: publicJwks([key]) }),
      "token_wrong_audience",
    );
    await rejects(verifyAttachTicket(token, { ...WELCOME, keys: publicJwks([other]) }), "token_invalid");
    await rejects(
      verifyAttachTicket(token, { ...WELCOME, keys: publicJwks([key]), now: Date.now() + 600_000 }),
      "token_expired",
    );
  });

  it("signers refuse bad identities and over-long lifetimes", async () => {
    const base = { ...WELCOME, ...identity, ttlSec: 60 };
    await rejects(signAttachTicket(key, { ...base, systemId: "a-b" }), "token_invalid");
    await rejects(signAttachTicket(key, { ...base, assignedPath: "sentinel0/x" }), "token_invalid");
    await rejects(signAttachTicket(key, { ...base, acceptedLogicals: ["*"] }), "token_invalid");
    await rejects(signAttachTicket(key, { ...base, acceptedLogicals: ["a.*.fabric"] }), "token_invalid");
    await rejects(signAttachTicket(key, { ...base, ttlSec: 301 }), "token_invalid");
  });

  /** Tokens correctly signed but with bad claims: what a compromised or buggy issuer could emit. */
  describe("malformed claims signed by a trusted key", () => {
    let raw: {
      jwk: Parameters<typeof publicJwks>[0];
      sign: (claims: Record<string, unknown>, typ?: string) => Promise<string>;
    };
    beforeAll(async () => {
      const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const pub = await exportJWK(publicKey);
      const k: SigningKey = {
        kid: "raw",
        alg: "EdDSA",
        privateKey,
        publicJwk: { ...pub, kid: "raw", alg: "EdDSA" },
      };
      raw = {
        jwk: [k],
        sign: (claims, typ = "fame-attach+jwt") =>
          new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ, kid: "raw" }).sign(privateKey),
      };
    });
    const now = Math.floor(Date.now() / 1000);
    const good = () => ({
      iss: WELCOME.issuer,
      aud: WELCOME.audience,
      sub: identity.systemId,
      jti: "j1",
      iat: now,
      exp: now + 60,
      system_id: identity.systemId,
      assigned_path: identity.assignedPath,
      sid: sidFromPath(identity.assignedPath),
      accepted_logicals: identity.acceptedLogicals,
      instance_id: "i1",
    });

    it.each([
      ["sid of another path", { sid: sidFromPath("/sentinel0/other") }],
      ["sub differs from system_id", { sub: "someoneElse" }],
      ["bad path", { assigned_path: "/a//b" }],
      ["wildcard in the middle", { accepted_logicals: ["a.*.fabric"] }],
      ["too many logicals", { accepted_logicals: Array.from({ length: 33 }, (_, i) => `n${i}.fame.fabric`) }],
      ["logical not a string", { accepted_logicals: [1] }],
      ["audience array", { aud: [WELCOME.audience, "fame-ca"] }],
      ["lifetime too long", { exp: now + 3600 }],
      ["missing jti", { jti: undefined }],
      ["bad instance id", { instance_id: "has space" }],
    ])("%s", async (_name, patch) => {
      const token = await raw.sign({ ...good(), ...patch });
      await rejects(verifyAttachTicket(token, { ...WELCOME, keys: publicJwks(raw.jwk) }), "token_invalid");
    });

    it("the unpatched claims do verify (control)", async () => {
      const token = await raw.sign(good());
      await expect(
        verifyAttachTicket(token, { ...WELCOME, keys: publicJwks(raw.jwk) }),
      ).resolves.toBeTruthy();
    });

    it("access token with client_id ≠ sub or malformed scope", async () => {
      const at = {
        iss: OAUTH.issuer,
        aud: OAUTH.audience,
        sub: "c1",
        client_id: "c1",
        scope: "node.connect",
        jti: "j",
        iat: now,
        exp: now + 60,
      };
      const keys = publicJwks(raw.jwk);
      await expect(verifyAccessToken(await raw.sign(at, "at+jwt"), { ...OAUTH, keys })).resolves.toBeTruthy();
      await rejects(
        verifyAccessToken(await raw.sign({ ...at, client_id: "c2" }, "at+jwt"), { ...OAUTH, keys }),
        "token_invalid",
      );
      await rejects(
        verifyAccessToken(await raw.sign({ ...at, scope: "a  b" }, "at+jwt"), { ...OAUTH, keys }),
        "token_invalid",
      );
      await rejects(
        verifyAccessToken(await raw.sign({ ...at, scope: 7 }, "at+jwt"), { ...OAUTH, keys }),
        "token_invalid",
      );
    });
  });
});

describe("signing key files", () => {
  it("loads a private JWK and publishes only its public half", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-keys-"));
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: "file-key", alg: "EdDSA" };
    writeFileSync(join(dir, "k.json"), JSON.stringify(jwk));
    const k = await loadSigningKeyFile(join(dir, "k.json"), "FAME_X");
    expect(k.kid).toBe("file-key");
    const jwks = publicJwks([k]);
    expect(jwks.keys[0]).not.toHaveProperty("d");
    const { token } = await signAccessToken(k, { ...OAUTH, clientId: "c", scopes: ["s"], ttlSec: 5 });
    await expect(verifyAccessToken(token, { ...OAUTH, keys: jwks })).resolves.toBeTruthy();
  });

  it("names the setting on bad files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-keys-"));
    writeFileSync(join(dir, "bad.json"), "{nope");
    writeFileSync(join(dir, "pub.json"), JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "abc", kid: "k" }));
    for (const f of ["missing.json", "bad.json", "pub.json"]) {
      const err = await loadSigningKeyFile(join(dir, f), "FAME_X").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).setting).toBe("FAME_X");
    }
  });

  it("loads a public JWKS file and refuses what could never verify or must not be there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-keys-"));
    const k = await generateSigningKey("pub-key");
    const write = (name: string, doc: unknown) => {
      writeFileSync(join(dir, name), JSON.stringify(doc));
      return join(dir, name);
    };
    const good = publicJwks([k]);
    expect(loadPublicJwksFile(write("good.json", good), "FAME_J")).toEqual(good);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const rsa = { kty: "RSA", n: "AQAB", e: "AQAB", kid: "r" };
    const bad = {
      "private.json": { keys: [await exportJWK(privateKey)] },
      "rsa.json": { keys: [rsa] },
      "empty.json": { keys: [] },
      "many.json": { keys: Array.from({ length: 17 }, () => good.keys[0]) },
      "null.json": { keys: [null] },
    };
    for (const [name, doc] of Object.entries(bad)) {
      const err = (() => {
        try {
          return loadPublicJwksFile(write(name, doc), "FAME_J");
        } catch (e) {
          return e;
        }
      })();
      expect(err, name).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).setting).toBe("FAME_J");
    }
  });
});
