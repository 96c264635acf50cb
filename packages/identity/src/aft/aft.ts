import { CompactSign, type CryptoKey, compactVerify } from "jose";
import { joseKeyFromPublic, joseKeyFromSeed } from "./jose-ed25519.js";

/**
 * The affinity tag (AFT): a compact JWS the replica signs with its certificate key to prove
 * that it holds channel `cid` for client `client_sid`. The sentinel pins the channel to the
 * replica on the strength of it and, after a restart, can rebuild the pin from a tag the
 * client echoes.
 */

export const AFT_TYP = "fame-aft+jwt";
export const AFT_ALG = "EdDSA";
export const AFT_SCOPE = "channel";
/** Tags are small; anything larger is refused before any parsing. */
export const MAX_AFT_LENGTH = 4096;
export const DEFAULT_AFT_TTL_SEC = 3600;

export interface AftClaims {
  /** The replica's sid. */
  sid: string;
  /** The channel id. */
  cid: string;
  /** The sid of the client that opened the channel. */
  client_sid: string;
  scp: typeof AFT_SCOPE;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

/** What the tag must say to be accepted for one channel. */
export interface AftExpectation {
  sid: string;
  cid: string;
  clientSid: string;
  /** Current time, milliseconds since the epoch. */
  nowMs: number;
  /** Default 30. */
  clockSkewSec?: number;
  /** Longest `exp - iat` accepted. Default 86 400 (24 h). */
  maxLifetimeSec?: number;
}

export type AftFailure =
  | "missing"
  | "too_large"
  | "malformed"
  | "unsigned"
  | "bad_alg"
  | "bad_typ"
  | "bad_signature"
  | "no_replica_key"
  | "bad_scope"
  | "sid_mismatch"
  | "cid_mismatch"
  | "client_sid_mismatch"
  | "expired"
  | "issued_in_future"
  | "lifetime_too_long";

export type AftResult = { ok: true; claims: AftClaims; signed: boolean } | { ok: false; reason: AftFailure };

/** A tag split and decoded but not yet checked. */
export interface DecodedAft {
  alg: string;
  typ: unknown;
  /** `alg: "none"` with an empty signature segment. */
  unsigned: boolean;
  payload: Record<string, unknown>;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Split and decode a tag without verifying it. The segments are checked against the base64url
 * alphabet first so this lenient decoder and jose's strict one can never read different bytes.
 */
export function decodeAft(token: string): { ok: true; aft: DecodedAft } | { ok: false; reason: AftFailure } {
  // Tags arrive in frames from the wire: do not trust the static type.
  if (typeof token !== "string") return { ok: false, reason: "malformed" };
  if (token.length > MAX_AFT_LENGTH) return { ok: false, reason: "too_large" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [h, p, s] = parts as [string, string, string];
  if (h.length === 0 || p.length === 0 || !SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) {
    return { ok: false, reason: "malformed" };
  }
  const header = jsonObject(h);
  const payload = jsonObject(p);
  if (header === undefined || payload === undefined || typeof header["alg"] !== "string") {
    return { ok: false, reason: "malformed" };
  }
  const alg = header["alg"];
  if (alg === "none" && s.length !== 0) return { ok: false, reason: "malformed" };
  return { ok: true, aft: { alg, typ: header["typ"], unsigned: alg === "none", payload } };
}

/** Check decoded claims against what the channel says; shared by the signed and unsigned paths. */
export function checkAftClaims(
  payload: Record<string, unknown>,
  expect: AftExpectation,
  signed: boolean,
): AftResult {
  const { sid, cid, client_sid, scp, iat, exp } = payload;
  if (typeof sid !== "string" || typeof cid !== "string" || typeof client_sid !== "string") {
    return { ok: false, reason: "malformed" };
  }
  if (typeof iat !== "number" || typeof exp !== "number" || !Number.isFinite(iat) || !Number.isFinite(exp)) {
    return { ok: false, reason: "malformed" };
  }
  if (scp !== AFT_SCOPE) return { ok: false, reason: "bad_scope" };
  if (sid !== expect.sid) return { ok: false, reason: "sid_mismatch" };
  if (cid !== expect.cid) return { ok: false, reason: "cid_mismatch" };
  if (client_sid !== expect.clientSid) return { ok: false, reason: "client_sid_mismatch" };
  const skew = expect.clockSkewSec ?? 30;
  const now = expect.nowMs / 1000;
  if (exp <= iat) return { ok: false, reason: "malformed" };
  if (exp - iat > (expect.maxLifetimeSec ?? 86_400)) return { ok: false, reason: "lifetime_too_long" };
  if (exp + skew <= now) return { ok: false, reason: "expired" };
  if (iat - skew > now) return { ok: false, reason: "issued_in_future" };
  return { ok: true, claims: { sid, cid, client_sid, scp, iat, exp }, signed };
}

/**
 * Verify a signed tag: EdDSA over Ed25519 with `typ` fame-aft+jwt, signed by `publicKey`
 * (raw 32 bytes, or an already imported key), with claims matching `expect`. Unsigned tags
 * fail with "unsigned"; callers that tolerate them use `checkUnsignedAft`.
 */
export async function verifyAft(
  token: string,
  publicKey: Uint8Array | CryptoKey,
  expect: AftExpectation,
): Promise<AftResult> {
  return verifyAftWith(token, expect, async () =>
    publicKey instanceof Uint8Array ? joseKeyFromPublic(publicKey) : publicKey,
  );
}

/**
 * `verifyAft` with the key fetched lazily: header and claims are checked first, so a garbage
 * or mismatched tag costs neither a key import nor a signature verification.
 */
export async function verifyAftWith(
  token: string,
  expect: AftExpectation,
  keyOf: () => Promise<CryptoKey | undefined>,
): Promise<AftResult> {
  const decoded = decodeAft(token);
  if (!decoded.ok) return decoded;
  const { aft } = decoded;
  if (aft.unsigned) return { ok: false, reason: "unsigned" };
  if (aft.alg !== AFT_ALG) return { ok: false, reason: "bad_alg" };
  if (aft.typ !== AFT_TYP) return { ok: false, reason: "bad_typ" };
  const claims = checkAftClaims(aft.payload, expect, true);
  if (!claims.ok) return claims;
  let key: CryptoKey | undefined;
  try {
    key = await keyOf();
  } catch {
    key = undefined;
  }
  if (key === undefined) return { ok: false, reason: "no_replica_key" };
  try {
    await compactVerify(token, key, { algorithms: [AFT_ALG] });
  } catch {
    return { ok: false, reason: "bad_signature" };
  }
  return claims;
}

/** Accept an unsigned (`alg: "none"`) tag on its claims alone; signed tags are refused here. */
export function checkUnsignedAft(token: string, expect: AftExpectation): AftResult {
  const decoded = decodeAft(token);
  if (!decoded.ok) return decoded;
  if (!decoded.aft.unsigned) return { ok: false, reason: "bad_alg" };
  if (decoded.aft.typ !== AFT_TYP) return { ok: false, reason: "bad_typ" };
  return checkAftClaims(decoded.aft.payload, expect, false);
}

/** Sign one tag. Imports the key on every call: use AftSigner when signing repeatedly. */
export async function signAft(claims: AftClaims, privateKeySeed: Uint8Array): Promise<string> {
  return signWith(claims, await joseKeyFromSeed(privateKeySeed));
}

/** An unsigned tag (`alg: "none"`, empty signature), for `signed-optional` deployments. */
export function unsignedAft(claims: AftClaims): string {
  const header = Buffer.from(JSON.stringify({ alg: "none", typ: AFT_TYP })).toString("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${header}.${payload}.`;
}

async function signWith(claims: AftClaims, key: CryptoKey): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  return new CompactSign(payload).setProtectedHeader({ alg: AFT_ALG, typ: AFT_TYP }).sign(key);
}

export interface AftSignerOptions {
  /** Clock in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Lifetime of issued tags. Default 3600. */
  ttlSec?: number;
}

/** Replica side: issues tags with one imported key (imported once, lazily). */
export class AftSigner {
  private key: Promise<CryptoKey> | undefined;
  private readonly seed: Uint8Array;
  private readonly now: () => number;
  private readonly ttlSec: number;

  constructor(privateKeySeed: Uint8Array, options: AftSignerOptions = {}) {
    if (privateKeySeed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
    this.seed = Uint8Array.from(privateKeySeed);
    this.now = options.now ?? Date.now;
    this.ttlSec = options.ttlSec ?? DEFAULT_AFT_TTL_SEC;
    if (!Number.isInteger(this.ttlSec) || this.ttlSec < 1)
      throw new RangeError("ttlSec must be a positive integer");
  }

  /** A tag for channel `cid` of `clientSid`, held by the replica `sid`, valid from now. */
  async issue(
    channel: { sid: string; cid: string; clientSid: string },
    ttlSec = this.ttlSec,
  ): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    return this.sign({
      sid: channel.sid,
      cid: channel.cid,
      client_sid: channel.clientSid,
      scp: AFT_SCOPE,
      iat,
      exp: iat + ttlSec,
    });
  }

  async sign(claims: AftClaims): Promise<string> {
    this.key ??= joseKeyFromSeed(this.seed);
    return signWith(claims, await this.key);
  }
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
