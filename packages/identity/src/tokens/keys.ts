import { ConfigError, readSettingJson } from "@fame/config";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { TOKEN_ALG } from "./claims.js";
import { isTokenId } from "./identifiers.js";

/** A private Ed25519 key ready to sign, with the public JWK it publishes. */
export interface SigningKey {
  kid: string;
  alg: typeof TOKEN_ALG;
  privateKey: CryptoKey;
  /** public half only: kty, crv, x, kid, alg, use */
  publicJwk: JWK;
}

/** Imports a private Ed25519 JWK (kty OKP, crv Ed25519, d, x, kid). */
export async function signingKeyFromJwk(jwk: unknown): Promise<SigningKey> {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk))
    throw new TypeError("JWK must be an object");
  const j = jwk as Record<string, unknown>;
  if (j["kty"] !== "OKP" || j["crv"] !== "Ed25519")
    throw new TypeError("JWK must be an Ed25519 key (kty OKP, crv Ed25519)");
  if (typeof j["d"] !== "string" || typeof j["x"] !== "string")
    throw new TypeError("JWK must be a private key (d and x)");
  if (!isTokenId(j["kid"])) throw new TypeError("JWK needs a kid of [A-Za-z0-9_.:-]{1,128}");
  if (j["alg"] !== undefined && j["alg"] !== TOKEN_ALG) throw new TypeError(`JWK alg must be ${TOKEN_ALG}`);
  const kid = j["kid"];
  const key = await importJWK({ kty: "OKP", crv: "Ed25519", d: j["d"], x: j["x"] }, TOKEN_ALG);
  if (key instanceof Uint8Array) throw new TypeError("JWK is not an asymmetric key");
  const publicJwk: JWK = { kty: "OKP", crv: "Ed25519", x: j["x"], kid, alg: TOKEN_ALG, use: "sig" };
  return { kid, alg: TOKEN_ALG, privateKey: key, publicJwk };
}

/**
 * Loads a signing key file; every failure is a ConfigError naming `setting`
 * so the service exits 2 with something fixable. Never echoes key material.
 */
export async function loadSigningKeyFile(file: string, setting: string): Promise<SigningKey> {
  const parsed = readSettingJson(file, setting);
  try {
    return await signingKeyFromJwk(parsed);
  } catch (err) {
    throw new ConfigError(setting, `${file}: ${(err as Error).message}`);
  }
}

/** A fresh Ed25519 signing key (tests, ephemeral dev runs). */
export async function generateSigningKey(kid: string = randomKid()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { crv: "Ed25519", extractable: false });
  const pub = await exportJWK(publicKey);
  return {
    kid,
    alg: TOKEN_ALG,
    privateKey,
    publicJwk: { kty: "OKP", crv: "Ed25519", x: pub.x, kid, alg: TOKEN_ALG, use: "sig" },
  };
}

/** The JWKS document a service publishes for its signing keys. */
export function publicJwks(keys: readonly SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}

function randomKid(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}
