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

/** A handful of rotating keys, not a key dump. */
const MAX_JWKS_FILE_KEYS = 16;

/**
 * Reads a JWKS file of public Ed25519 verification keys. jose checks members only when a token
 * arrives, so what could never verify (or must never be here: a private key) is refused at
 * startup, as a ConfigError naming `setting`.
 */
export function loadPublicJwksFile(file: string, setting: string): JSONWebKeySet {
  const doc = readSettingJson(file, setting);
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_JWKS_FILE_KEYS) {
    throw new ConfigError(setting, `${file} must be a JWKS with 1..${MAX_JWKS_FILE_KEYS} keys`);
  }
  for (const k of keys as unknown[]) {
    const j = k as Record<string, unknown> | null;
    if (j === null || typeof j !== "object" || j["kty"] !== "OKP" || j["crv"] !== "Ed25519" || "d" in j) {
      throw new ConfigError(setting, `${file} must hold only public Ed25519 keys`);
    }
  }
  return doc as JSONWebKeySet;
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
