/** Per-frame-type validators. Each refuses unknown members, then checks every known one. */
import { isValidLogical, isValidPath, isWildcardLogical, tryParseAddress } from "./address.js";
import { isBase64 } from "./base64.js";
import { isErrorCode } from "./error-codes.js";
import { type Frame, type FrameType, MAX_BATCH_ENTRIES } from "./frames.js";
import { ID_PATTERN, NODE_NAME_PATTERN, SID_PATTERN, SYSTEM_ID_PATTERN, TOKEN_PATTERN } from "./ids.js";
import { ProtocolError } from "./protocol-error.js";
import {
  type Ctx,
  checkJsonValue,
  checkKeys,
  expectArray,
  expectBase64url,
  expectBoolean,
  expectInteger,
  expectLiteral,
  expectMatch,
  expectObject,
  expectString,
  fail,
  get,
  join,
  type Obj,
} from "./validate-primitives.js";

/** Depth of the frame object itself: the envelope is depth 1. */
const FRAME_DEPTH = 2;
const MAX_X5C = 5;
const MAX_STICKINESS_ENTRIES = 8;
/** Smallest AEAD output: an empty plaintext still carries a 16-byte tag. */
const MIN_CIPHERTEXT_BYTES = 16;

const TICKET = /^[\x21-\x7e]+$/;
// The signature may be empty: an unsecured tag (alg "none", RFC 7515 A.5) must reach the
// stickiness manager, which refuses or accepts it by its security level, instead of dying here.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

export function checkId(value: unknown, field: string): string {
  return expectMatch(value, field, ID_PATTERN, "an id ([A-Za-z0-9_.:-]{1,128})");
}

export function checkSid(value: unknown, field: string): string {
  return expectMatch(value, field, SID_PATTERN, "a sid (base62, 1..64)");
}

export function checkAddress(value: unknown, field: string): string {
  if (typeof value !== "string" || tryParseAddress(value) === undefined) fail(field, "must be an address");
  return value;
}

export function checkCompactJws(value: unknown, field: string, ctx: Ctx): string {
  if (typeof value !== "string") fail(field, "must be a string");
  if (value.length > ctx.limits.maxTicketLength) fail(field, `longer than ${ctx.limits.maxTicketLength}`);
  if (!COMPACT_JWS.test(value)) fail(field, "must be a compact JWS");
  return value;
}

function checkTicket(value: unknown, field: string, ctx: Ctx): void {
  if (typeof value !== "string") fail(field, "must be a string");
  if (value.length > ctx.limits.maxTicketLength) fail(field, `longer than ${ctx.limits.maxTicketLength}`);
  if (!TICKET.test(value)) fail(field, "must be non-empty printable ASCII");
}

function checkCode(o: Obj, field: string, required: boolean): void {
  const code = get(o, "code");
  if (code === undefined) {
    if (required) fail(field, "required when ok is false");
    return;
  }
  if (!isErrorCode(code)) fail(field, "must be a known error code");
}

function checkOptional(o: Obj, key: string, base: string, check: (v: unknown, field: string) => void): void {
  const v = get(o, key);
  if (v !== undefined) check(v, `${base}.${key}`);
}

function checkReason(o: Obj, ctx: Ctx): void {
  checkOptional(o, "reason", "frame", (v, f) => expectString(v, f, ctx.limits.maxStringLength));
}

const JWK_KEYS = new Set(["kty", "crv", "x", "kid", "use", "x5c"]);

function checkJwk(value: unknown, field: string, ctx: Ctx): void {
  const o = expectObject(value, field);
  checkKeys(o, JWK_KEYS, field);
  expectLiteral(get(o, "kty"), `${field}.kty`, ["OKP"]);
  expectLiteral(get(o, "crv"), `${field}.crv`, ["Ed25519", "X25519"]);
  expectBase64url(get(o, "x"), `${field}.x`, 32);
  checkId(get(o, "kid"), `${field}.kid`);
  checkOptional(o, "use", field, (v, f) => expectLiteral(v, f, ["sig", "enc"]));
  const x5c = get(o, "x5c");
  if (x5c === undefined) return;
  const certs = expectArray(x5c, `${field}.x5c`, MAX_X5C);
  for (let i = 0; i < certs.length; i++) {
    const f = `${field}.x5c[${i}]`;
    const cert = expectString(certs[i], f, ctx.limits.maxStringLength);
    if (cert.length === 0 || !isBase64(cert)) fail(f, "must be non-empty standard base64");
  }
}

function checkJwkList(value: unknown, field: string, ctx: Ctx): void {
  const keys = expectArray(value, field, ctx.limits.maxKeys);
  for (let i = 0; i < keys.length; i++) checkJwk(keys[i], `${field}[${i}]`, ctx);
}

/**
 * Flat string-keyed maps of primitives (`meta`, `stickiness`). `__proto__` is refused by
 * name: it passes the key pattern, and a consumer copying the map with plain assignment
 * would otherwise replace the copy's prototype.
 */
export function checkPrimitiveMap(value: unknown, field: string, maxEntries: number, ctx: Ctx): Obj {
  const o = expectObject(value, field);
  const keys = Object.keys(o);
  if (keys.length > maxEntries) fail(field, `at most ${maxEntries} entries`);
  for (const key of keys) {
    const f = join(field, key);
    if (key === "__proto__" || !TOKEN_PATTERN.test(key)) fail(f, "forbidden or malformed key");
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v === "string") expectString(v, f, ctx.limits.maxStringLength);
    else if (typeof v === "number") {
      if (!Number.isFinite(v)) fail(f, "must be a finite number");
    } else if (typeof v !== "boolean") fail(f, "must be a string, number or boolean");
  }
  return o;
}

/**
 * A coalesced record's message list: 2..MAX_BATCH_ENTRIES entries. A conversation may
 * appear several times (a burst of one stream's items, or of its credits). Every record of
 * a busy channel carries one, checked at each hop: the field path of an entry is only
 * spelled out when it fails.
 */
function checkBatch(value: unknown): void {
  const entries = expectArray(value, "frame.batch", MAX_BATCH_ENTRIES);
  if (entries.length < 2) fail("frame.batch", "needs at least 2 entries (send one message unbatched)");
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      badEntry(i, "", "must be an object");
    const proto: unknown = Object.getPrototypeOf(entry);
    if (proto !== Object.prototype && proto !== null) badEntry(i, "", "must be a plain object");
    let more: unknown;
    let corrId: unknown;
    for (const key in entry) {
      if (!Object.hasOwn(entry, key)) continue;
      if (key === "corrId") corrId = (entry as Obj)[key];
      else if (key === "more") more = (entry as Obj)[key];
      else badEntry(i, "", "unknown field", key);
    }
    if (typeof corrId !== "string" || !ID_PATTERN.test(corrId))
      badEntry(i, ".corrId", "must be an id ([A-Za-z0-9_.:-]{1,128})");
    if (more !== undefined && more !== true) badEntry(i, ".more", "must be true when present");
  }
}

function badEntry(i: number, member: string, message: string, unknownKey?: string): never {
  const f = `frame.batch[${i}]${member}`;
  fail(unknownKey === undefined ? f : join(f, unknownKey), message);
}

type FrameCheck = (o: Obj, ctx: Ctx) => void;

interface FrameSpec {
  keys: ReadonlySet<string>;
  check: FrameCheck;
}

function spec(keys: readonly string[], check: FrameCheck): FrameSpec {
  return { keys: new Set(["type", ...keys]), check };
}

const FRAME_SPECS: ReadonlyMap<FrameType, FrameSpec> = new Map<FrameType, FrameSpec>([
  [
    "NodeAttach",
    spec(["systemId", "instanceId", "attachTicket", "logicals", "keys", "capabilities", "name"], (o, ctx) => {
      expectMatch(
        get(o, "systemId"),
        "frame.systemId",
        SYSTEM_ID_PATTERN,
        "a system id ([A-Za-z0-9_]{1,64})",
      );
      checkId(get(o, "instanceId"), "frame.instanceId");
      checkOptional(o, "attachTicket", "frame", (v, f) => checkTicket(v, f, ctx));
      const logicals = expectArray(get(o, "logicals"), "frame.logicals", ctx.limits.maxLogicals);
      for (let i = 0; i < logicals.length; i++) {
        const l = logicals[i];
        if (typeof l !== "string" || !(isValidLogical(l) || isWildcardLogical(l))) {
          fail(`frame.logicals[${i}]`, "must be a logical or *.wildcard logical");
        }
      }
      checkJwkList(get(o, "keys"), "frame.keys", ctx);
      checkOptional(o, "capabilities", "frame", (v, f) => {
        const caps = expectArray(v, f, ctx.limits.maxCapabilities);
        for (let i = 0; i < caps.length; i++) expectMatch(caps[i], `${f}[${i}]`, TOKEN_PATTERN, "a token");
      });
      checkOptional(o, "name", "frame", (v, f) =>
        expectMatch(v, f, NODE_NAME_PATTERN, "a node name ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"),
      );
    }),
  ],
  [
    "NodeAttachAck",
    spec(
      [
        "ok",
        "assignedPath",
        "keys",
        "stickiness",
        "heartbeatMs",
        "maxFrameBytes",
        "linkBatch",
        "binaryRecords",
        "binaryBatch",
        "poolBatches",
        "code",
        "reason",
      ],
      (o, ctx) => {
        expectBoolean(get(o, "ok"), "frame.ok");
        checkOptional(o, "assignedPath", "frame", (v, f) => {
          if (typeof v !== "string" || !isValidPath(v)) fail(f, "must be a physical path (/seg/...)");
        });
        checkOptional(o, "keys", "frame", (v, f) => checkJwkList(v, f, ctx));
        checkOptional(o, "stickiness", "frame", (v, f) => {
          const s = checkPrimitiveMap(v, f, MAX_STICKINESS_ENTRIES, ctx);
          expectMatch(get(s, "mode"), `${f}.mode`, TOKEN_PATTERN, "a token");
        });
        checkOptional(o, "heartbeatMs", "frame", (v, f) => expectInteger(v, f, 1));
        checkOptional(o, "maxFrameBytes", "frame", (v, f) => expectInteger(v, f, 1024));
        checkOptional(o, "linkBatch", "frame", (v, f) => expectInteger(v, f, 2));
        checkOptional(o, "binaryRecords", "frame", (v, f) => expectBoolean(v, f));
        checkOptional(o, "binaryBatch", "frame", (v, f) => expectBoolean(v, f));
        checkOptional(o, "poolBatches", "frame", (v, f) => expectBoolean(v, f));
        checkCode(o, "frame.code", false);
        checkReason(o, ctx);
      },
    ),
  ],
  ["AddressBind", spec(["address"], (o) => void checkAddress(get(o, "address"), "frame.address"))],
  [
    "AddressBindAck",
    spec(["address", "ok", "code", "reason"], (o, ctx) => {
      checkAddress(get(o, "address"), "frame.address");
      expectBoolean(get(o, "ok"), "frame.ok");
      checkCode(o, "frame.code", false);
      checkReason(o, ctx);
    }),
  ],
  ["AddressUnbind", spec(["address"], (o) => void checkAddress(get(o, "address"), "frame.address"))],
  ["Heartbeat", spec([], () => {})],
  ["HeartbeatAck", spec([], () => {})],
  [
    "Data",
    spec(["codec", "payload", "ct", "pd", "batch"], (o, ctx) => {
      const codec = expectLiteral(get(o, "codec"), "frame.codec", ["json", "enc"]);
      const payload = get(o, "payload");
      const ct = get(o, "ct");
      if (codec === "json") {
        if (ct !== undefined) fail("frame.ct", "not allowed with codec json");
        if (payload === undefined) fail("frame.payload", "required with codec json");
        checkJsonValue(payload, FRAME_DEPTH, ctx, "frame.payload");
      } else {
        if (payload !== undefined) fail("frame.payload", "not allowed with codec enc");
        if (ct === undefined) fail("frame.ct", "required with codec enc");
        if (typeof ct === "string" && ct.length > ctx.limits.maxFrameBytes) {
          throw new ProtocolError("frame_too_large", "frame.ct", "longer than the frame limit");
        }
        expectBase64url(ct, "frame.ct", MIN_CIPHERTEXT_BYTES, ctx.limits.maxFrameBytes);
      }
      const batch = get(o, "batch");
      if (batch !== undefined) {
        checkBatch(batch);
        // clear: one payload per entry, in order (sealed: checked by the receiver once opened)
        if (codec === "json" && (!Array.isArray(payload) || payload.length !== (batch as unknown[]).length))
          fail("frame.payload", "a batch's payload must be an array with one payload per batch entry");
      }
      checkOptional(o, "pd", "frame", (v, f) => expectBase64url(v, f, 32));
    }),
  ],
  [
    "DeliveryAck",
    spec(["ok", "refId", "code", "reason"], (o, ctx) => {
      const ok = expectBoolean(get(o, "ok"), "frame.ok");
      checkId(get(o, "refId"), "frame.refId");
      checkCode(o, "frame.code", !ok);
      checkReason(o, ctx);
    }),
  ],
  [
    "KeyRequest",
    spec(["kid", "address"], (o) => {
      const kid = get(o, "kid");
      const address = get(o, "address");
      if (kid === undefined && address === undefined) fail("frame", "needs kid or address");
      if (kid !== undefined) checkId(kid, "frame.kid");
      if (address !== undefined) checkAddress(address, "frame.address");
    }),
  ],
  [
    "KeyAnnounce",
    spec(["keys", "sid", "address"], (o, ctx) => {
      checkJwkList(get(o, "keys"), "frame.keys", ctx);
      checkOptional(o, "sid", "frame", checkSid);
      checkOptional(o, "address", "frame", checkAddress);
    }),
  ],
  [
    "SecureOpen",
    spec(["cid", "ephPub", "alg"], (o) => {
      checkId(get(o, "cid"), "frame.cid");
      expectBase64url(get(o, "ephPub"), "frame.ephPub", 32);
      expectLiteral(get(o, "alg"), "frame.alg", ["CHACHA20P1305"]);
    }),
  ],
  [
    "SecureAccept",
    spec(["cid", "ok", "ephPub", "aft", "code", "reason"], (o, ctx) => {
      checkId(get(o, "cid"), "frame.cid");
      const ok = expectBoolean(get(o, "ok"), "frame.ok");
      const ephPub = get(o, "ephPub");
      if (ephPub !== undefined) expectBase64url(ephPub, "frame.ephPub", 32);
      else if (ok) fail("frame.ephPub", "required when ok is true");
      checkOptional(o, "aft", "frame", (v, f) => checkCompactJws(v, f, ctx));
      checkCode(o, "frame.code", false);
      checkReason(o, ctx);
    }),
  ],
  [
    "SecureClose",
    spec(["cid", "reason"], (o, ctx) => {
      checkId(get(o, "cid"), "frame.cid");
      checkReason(o, ctx);
    }),
  ],
  [
    "Drain",
    spec(["deadlineMs"], (o) => checkOptional(o, "deadlineMs", "frame", (v, f) => expectInteger(v, f, 0))),
  ],
  ["KeyUpdate", spec(["keys"], (o, ctx) => checkJwkList(get(o, "keys"), "frame.keys", ctx))],
]);

export function checkFrame(value: unknown, ctx: Ctx): Frame {
  const o = expectObject(value, "frame");
  const type = get(o, "type");
  if (typeof type !== "string") fail("frame.type", "must be a string");
  // A Map lookup, not an object index: "constructor" or "__proto__" must not find anything.
  const frameSpec = FRAME_SPECS.get(type as FrameType);
  if (frameSpec === undefined) throw new ProtocolError("unknown_frame", "frame.type", "unknown frame type");
  checkKeys(o, frameSpec.keys, "frame");
  frameSpec.check(o, ctx);
  return o as unknown as Frame;
}
