import { sidFromPath } from "@fame/protocol";
import { decodeJwt } from "jose";
import {
  isAssignedPath,
  isGrantLogical,
  isSystemId,
  LIMITS,
  logicalCoveredBy,
} from "../tokens/identifiers.js";
import { AdmissionError, type AdmissionStep } from "./errors.js";

/**
 * Strict readers for the three servers' answers. Every server is untrusted
 * input here: a bad answer becomes an AdmissionError(bad_response), never a crash.
 */

const MAX_PEM_CHARS = 64 * 1024;
/** sentinels one hello may list: a cluster's, with room to spare; more is a broken or hostile Welcome */
export const MAX_TRANSPORT_URLS = 64;

export interface TokenAnswer {
  accessToken: string;
  /** the token's lifetime as the server stated it (`expires_in`, 1 s … 1 day), if it did */
  expiresInSec?: number;
}

const MAX_EXPIRES_IN_SEC = 86_400;

export function readTokenAnswer(raw: unknown): TokenAnswer {
  const r = object(raw, "token");
  const accessToken = r["access_token"];
  if (
    typeof accessToken !== "string" ||
    accessToken.length === 0 ||
    accessToken.length > LIMITS.maxTokenBytes
  ) {
    throw bad("token", "access_token missing or too large");
  }
  if (typeof r["token_type"] !== "string" || r["token_type"].toLowerCase() !== "bearer") {
    throw bad("token", "token_type is not Bearer");
  }
  const expiresIn = r["expires_in"];
  // optional in RFC 6749; a value outside its sane range is ignored (the token is then not kept)
  if (typeof expiresIn === "number" && Number.isInteger(expiresIn) && expiresIn > 0) {
    return { accessToken, expiresInSec: Math.min(expiresIn, MAX_EXPIRES_IN_SEC) };
  }
  return { accessToken };
}

export interface HelloAnswer {
  systemId: string;
  assignedPath: string;
  sid: string;
  acceptedLogicals: string[];
  attachTicket: string;
  ticketExpiresAt: Date;
  transportUrl: string;
  /** every sentinel the node may attach to, Welcome's preference first (transportUrl leads) */
  transportUrls: string[];
  caSignUrl: string;
  caGrant: string;
}

export function readHelloAnswer(
  raw: unknown,
  requested: readonly string[],
  allowPlainHttp: boolean,
): HelloAnswer {
  const r = object(raw, "hello");
  const { systemId, assignedPath, sid, acceptedLogicals, attachTicket } = r;
  if (!isSystemId(systemId)) throw bad("hello", "systemId is malformed");
  if (!isAssignedPath(assignedPath)) throw bad("hello", "assignedPath is malformed");
  if (sid !== sidFromPath(assignedPath)) throw bad("hello", "sid does not match assignedPath");
  if (
    !Array.isArray(acceptedLogicals) ||
    acceptedLogicals.length > LIMITS.maxLogicals ||
    !acceptedLogicals.every(
      (l) => isGrantLogical(l) && requested.some((q) => logicalCoveredBy(q, l as string)),
    )
  ) {
    // Welcome may narrow what was asked, never widen it.
    throw bad("hello", "acceptedLogicals are malformed or exceed what was requested");
  }
  const ticket = string(attachTicket, "hello", "attachTicket", LIMITS.maxTokenBytes);
  const ticketExp = ticketExpiry(ticket, systemId, assignedPath);
  const transport = object(r["transport"], "hello", "transport");
  const wsProtocols = ["wss:", ...(allowPlainHttp ? ["ws:"] : [])];
  const transportUrl = url(transport["url"], "hello", "transport.url", wsProtocols);
  const transportUrls = urlList(transport["urls"], transportUrl, wsProtocols);
  const grant = object(r["caGrant"], "hello", "caGrant");
  const caSignUrl = url(grant["url"], "hello", "caGrant.url", [
    "https:",
    ...(allowPlainHttp ? ["http:"] : []),
  ]);
  const caGrant = string(grant["token"], "hello", "caGrant.token", LIMITS.maxTokenBytes);
  return {
    systemId,
    assignedPath,
    sid,
    acceptedLogicals: [...(acceptedLogicals as string[])],
    attachTicket: ticket,
    ticketExpiresAt: ticketExp,
    transportUrl,
    transportUrls,
    caSignUrl,
    caGrant,
  };
}

export interface SignAnswer {
  certificatePem: string;
  chainPem: string;
}

export function readSignAnswer(raw: unknown): SignAnswer {
  const r = object(raw, "sign");
  const certificatePem = string(r["certificatePem"], "sign", "certificatePem", MAX_PEM_CHARS);
  // An empty chain is legal: a CA signing straight from a trust anchor has nothing to add.
  const chainPem = r["chainPem"] === "" ? "" : string(r["chainPem"], "sign", "chainPem", MAX_PEM_CHARS);
  if (!certificatePem.includes("-----BEGIN CERTIFICATE-----"))
    throw bad("sign", "certificatePem is not a PEM certificate");
  return { certificatePem, chainPem };
}

/**
 * The ticket is opaque to the node (only the sentinel verifies it), but its
 * claims must describe the identity Welcome just answered with.
 */
function ticketExpiry(ticket: string, systemId: string, assignedPath: string): Date {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(ticket);
  } catch {
    throw bad("hello", "attachTicket is not a JWT");
  }
  if (claims["system_id"] !== systemId || claims["assigned_path"] !== assignedPath) {
    throw bad("hello", "attachTicket names another identity");
  }
  if (typeof claims["exp"] !== "number" || !Number.isFinite(claims["exp"]))
    throw bad("hello", "attachTicket has no exp");
  return new Date(claims["exp"] * 1000);
}

function object(raw: unknown, step: AdmissionStep, what = "answer"): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw bad(step, `${what} is not a JSON object`);
  return raw as Record<string, unknown>;
}

function string(v: unknown, step: AdmissionStep, what: string, max: number): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    throw bad(step, `${what} is missing or too large`);
  return v;
}

function url(v: unknown, step: AdmissionStep, what: string, protocols: string[]): string {
  if (typeof v !== "string" || v.length > 2048) throw bad(step, `${what} is missing`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(step, `${what} is not a URL`);
  }
  if (!protocols.includes(u.protocol)) throw bad(step, `${what} must use ${protocols.join(" or ")}`);
  return u.href;
}

/**
 * `transport.urls` (a cluster's sentinels, preferred first) with `first` leading and no repeats;
 * absent (a single sentinel) means just `first`.
 */
function urlList(v: unknown, first: string, protocols: string[]): string[] {
  if (v === undefined) return [first];
  if (!Array.isArray(v) || v.length > MAX_TRANSPORT_URLS)
    throw bad("hello", `transport.urls must be a list of at most ${MAX_TRANSPORT_URLS} URLs`);
  const out = [first];
  for (const item of v) {
    const u = url(item, "hello", "transport.urls[]", protocols);
    if (!out.includes(u)) out.push(u);
  }
  return out;
}

function bad(step: AdmissionStep, message: string): AdmissionError {
  return new AdmissionError(step, "bad_response", message);
}
