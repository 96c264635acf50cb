import { ProtocolError } from "./protocol-error.js";

/**
 * Addresses name an endpoint on the fabric:
 *   logical   `name@host.name`   — stable service name, may be served by several replicas
 *   physical  `name@/seg/seg`    — one concrete node, path assigned by the sentinel
 * Wildcard logicals (`*.fame.fabric`) only occur in granted/requested logical lists.
 */
export type Address = string;

export interface LogicalAddress {
  name: string;
  logical: string;
}
export interface PhysicalAddress {
  name: string;
  path: string;
}
export type ParsedAddress = LogicalAddress | PhysicalAddress;

/** A logical or a wildcard pattern split into its parts; `base` never starts with `*.`. */
export interface LogicalPattern {
  wildcard: boolean;
  base: string;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9_]{1,64}$/;
const MAX_LOGICAL = 253;
const MAX_SEGMENTS = 8;
/** 8 segments of 64 plus their slashes; lets us refuse long input before splitting it. */
const MAX_PATH = MAX_SEGMENTS * 65;
const MAX_ADDRESS = 64 + 1 + Math.max(MAX_LOGICAL, MAX_PATH);

export function isValidName(s: string): boolean {
  return NAME.test(s);
}

/** A concrete (non-wildcard) lowercase DNS host name. */
export function isValidLogical(s: string): boolean {
  if (s.length === 0 || s.length > MAX_LOGICAL) return false;
  for (const label of s.split(".")) if (!LABEL.test(label)) return false;
  return true;
}

/** `*.` followed by a valid logical; `*` alone would grant everything and is refused. */
export function isWildcardLogical(s: string): boolean {
  return s.length <= MAX_LOGICAL && s.startsWith("*.") && isValidLogical(s.slice(2));
}

export function isValidPath(s: string): boolean {
  if (s.length < 2 || s.length > MAX_PATH || s.charCodeAt(0) !== 0x2f) return false;
  const segments = s.slice(1).split("/");
  if (segments.length > MAX_SEGMENTS) return false;
  for (const seg of segments) if (!SEGMENT.test(seg)) return false;
  return true;
}

/** Parse a logical or wildcard pattern; throws ProtocolError(bad_envelope) at `field`. */
export function parseLogical(s: unknown, field = "logical"): LogicalPattern {
  if (typeof s === "string") {
    if (isValidLogical(s)) return { wildcard: false, base: s };
    if (isWildcardLogical(s)) return { wildcard: true, base: s.slice(2) };
  }
  throw new ProtocolError("bad_envelope", field, "not a valid logical");
}

/**
 * Addresses that parsed, by text. A node (and the sentinel, per connection) sees the same few
 * addresses in every envelope it checks, twice per envelope; parsing them each time is a
 * visible share of routing a frame. Bounded: a sender inventing addresses only makes it start over.
 */
const parsedAddresses = new Map<string, Readonly<ParsedAddress>>();
const MAX_PARSED_ADDRESSES = 4096;

/** Parses an address; the result is shared (frozen), so callers must not change it. */
export function tryParseAddress(s: unknown): Readonly<ParsedAddress> | undefined {
  if (typeof s !== "string" || s.length > MAX_ADDRESS) return undefined;
  const known = parsedAddresses.get(s);
  if (known !== undefined) return known;
  const parsed = parseAddressText(s);
  if (parsed !== undefined) {
    if (parsedAddresses.size >= MAX_PARSED_ADDRESSES) parsedAddresses.clear();
    parsedAddresses.set(s, Object.freeze(parsed));
  }
  return parsed;
}

function parseAddressText(s: string): ParsedAddress | undefined {
  const at = s.indexOf("@");
  if (at < 0) return undefined;
  const name = s.slice(0, at);
  const rest = s.slice(at + 1);
  if (!NAME.test(name)) return undefined;
  if (rest.charCodeAt(0) === 0x2f) return isValidPath(rest) ? { name, path: rest } : undefined;
  return isValidLogical(rest) ? { name, logical: rest } : undefined;
}

/** Parse an address; throws ProtocolError(bad_envelope) at `field`. */
export function parseAddress(s: unknown, field = "address"): Readonly<ParsedAddress> {
  const parsed = tryParseAddress(s);
  if (parsed === undefined) throw new ProtocolError("bad_envelope", field, "not a valid address");
  return parsed;
}

export function isAddress(s: unknown): s is Address {
  return tryParseAddress(s) !== undefined;
}

/**
 * Is `address` `name@…`: is its name part `name`? Compared in place (no parse, no substring),
 * for checks made on every frame: which agent `name@/path` reaches, whose policy applies.
 */
export function addressHasName(address: string, name: string): boolean {
  return (
    name.length > 0 &&
    address.length > name.length &&
    address.charCodeAt(name.length) === 64 /* @ */ &&
    address.startsWith(name)
  );
}

export function isLogicalAddress(a: ParsedAddress): a is LogicalAddress {
  return "logical" in a;
}

/**
 * Exact match, or `*.base` matching `base` itself and any subdomain of it.
 * Invalid inputs never match, so a malformed grant cannot widen access.
 */
export function logicalMatches(pattern: string, logical: string): boolean {
  if (!isValidLogical(logical)) return false;
  if (isValidLogical(pattern)) return pattern === logical;
  if (!isWildcardLogical(pattern)) return false;
  const base = pattern.slice(2);
  // The dot check stops `*.fabric` from matching `evilfabric`.
  return logical === base || logical.endsWith(`.${base}`);
}

/**
 * Whether a logical address falls under one of the accepted logicals. Physical addresses
 * are not governed by logical grants (the sentinel assigns them), so they are never "allowed by" one.
 */
export function addressAllowedBy(
  address: Address | ParsedAddress,
  acceptedLogicals: readonly string[],
): boolean {
  const parsed = typeof address === "string" ? tryParseAddress(address) : address;
  if (parsed === undefined || !isLogicalAddress(parsed)) return false;
  for (const pattern of acceptedLogicals) if (logicalMatches(pattern, parsed.logical)) return true;
  return false;
}
