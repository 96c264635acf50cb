import { sidFromPath } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { decodeOid, encodeOid, encodeTlv, readSingle, readTlv } from "../src/pki/der.js";
import {
  decodeFameExtensionValue,
  encodeFameExtensionValue,
  FAME_EXTENSION_OID,
  FAME_EXTENSION_UUID,
  FameExtensionError,
} from "../src/pki/fame-extension.js";
import {
  decodeNameConstraints,
  encodeUriNameConstraints,
  nameConstraintViolation,
} from "../src/pki/name-constraints.js";
import {
  decodePrincipalValue,
  FAME_PRINCIPAL_EXTENSION_OID,
  FAME_PRINCIPAL_EXTENSION_UUID,
  principalExtensionDer,
} from "../src/pki/principal-extension.js";

const utf8 = (s: string) => encodeTlv(0x0c, new TextEncoder().encode(s));
const claims = {
  sid: sidFromPath("/s1/n1"),
  path: "/s1/n1",
  logicals: ["api.fame.fabric", "*.svc.fame.fabric"],
};

describe("FAME extension", () => {
  it("OID is 2.25 + the documented UUID as an integer", () => {
    expect(FAME_EXTENSION_OID).toBe(`2.25.${BigInt(`0x${FAME_EXTENSION_UUID.replaceAll("-", "")}`)}`);
  });

  it("encodes arcs above 2^53 and decodes them back", () => {
    const der = encodeOid(FAME_EXTENSION_OID);
    expect(der[0]).toBe(0x06);
    expect(decodeOid(readTlv(der, 0).value)).toBe(FAME_EXTENSION_OID);
    expect(decodeOid(readTlv(encodeOid("1.2.840.113549.1.9.14"), 0).value)).toBe("1.2.840.113549.1.9.14");
  });

  it("round-trips claims as a DER UTF8String of canonical JSON", () => {
    const der = encodeFameExtensionValue(claims);
    expect(der[0]).toBe(0x0c);
    expect(decodeFameExtensionValue(der)).toEqual(claims);
    expect(decodeFameExtensionValue(encodeFameExtensionValue({ ...claims, logicals: [] })).logicals).toEqual(
      [],
    );
  });

  it("refuses anything but the exact canonical encoding", () => {
    const good = JSON.stringify(claims);
    const bad: [string, Uint8Array][] = [
      ["wrong tag", encodeTlv(0x04, new TextEncoder().encode(good))],
      ["trailing bytes", Uint8Array.from([...utf8(good), 0])],
      ["truncated", utf8(good).subarray(0, 20)],
      ["not JSON", utf8("{nope")],
      ["array", utf8("[]")],
      ["extra member", utf8(JSON.stringify({ ...claims, admin: true }))],
      ["reordered", utf8(JSON.stringify({ path: claims.path, sid: claims.sid, logicals: claims.logicals }))],
      ["whitespace", utf8(JSON.stringify(claims, null, 1))],
      ["duplicate key", utf8(good.replace('{"sid"', `{"sid":"x","sid"`))],
      ["bad sid", utf8(JSON.stringify({ ...claims, sid: "not-base62!" }))],
      ["bad path", utf8(JSON.stringify({ ...claims, path: "relative/path" }))],
      ["bad logical", utf8(JSON.stringify({ ...claims, logicals: ["UPPER.case"] }))],
      ["duplicate logical", utf8(JSON.stringify({ ...claims, logicals: ["a.b", "a.b"] }))],
      ["non-string logical", utf8(JSON.stringify({ ...claims, logicals: [1] }))],
      [
        "too many logicals",
        utf8(JSON.stringify({ ...claims, logicals: Array.from({ length: 65 }, (_, i) => `l${i}.x`) })),
      ],
      ["invalid UTF-8", encodeTlv(0x0c, Uint8Array.of(0xff, 0xfe))],
      ["non-minimal length", Uint8Array.of(0x0c, 0x81, 0x02, 0x7b, 0x7d)],
      ["indefinite length", Uint8Array.of(0x0c, 0x80, 0x7b, 0x7d, 0, 0)],
      ["oversized", encodeTlv(0x0c, new Uint8Array(30 * 1024).fill(0x20))],
    ];
    for (const [label, der] of bad) {
      expect(() => decodeFameExtensionValue(der), label).toThrow(FameExtensionError);
    }
  });

  it("writer refuses invalid claims", () => {
    expect(() => encodeFameExtensionValue({ ...claims, path: "nope" })).toThrow(FameExtensionError);
  });
});

describe("FAME principal extension", () => {
  it("OID is 2.25 + its documented UUID as an integer", () => {
    expect(FAME_PRINCIPAL_EXTENSION_OID).toBe(
      `2.25.${BigInt(`0x${FAME_PRINCIPAL_EXTENSION_UUID.replace(/-/g, "")}`)}`,
    );
  });

  it("round-trips a client id as a DER UTF8String, and refuses anything else", () => {
    const ext = principalExtensionDer("team-billing");
    const value = readSingle(
      readSingle(ext, 0x30).subarray(encodeOid(FAME_PRINCIPAL_EXTENSION_OID).length),
      0x04,
    );
    expect(decodePrincipalValue(value)).toBe("team-billing");
    const bytes = (t: string) => new TextEncoder().encode(t);
    const bad: [string, Uint8Array][] = [
      ["wrong tag", encodeTlv(0x04, bytes("team"))],
      ["empty", encodeTlv(0x0c, new Uint8Array(0))],
      ["space", utf8("a b")],
      ["too long a client id", utf8("p".repeat(129))],
      ["oversized", encodeTlv(0x0c, new Uint8Array(300).fill(0x61))],
      ["trailing bytes", Uint8Array.from([...utf8("team"), 0])],
      ["invalid UTF-8", encodeTlv(0x0c, Uint8Array.of(0xff, 0xfe))],
    ];
    for (const [label, der] of bad)
      expect(() => decodePrincipalValue(der), label).toThrow(FameExtensionError);
    expect(() => principalExtensionDer("has space")).toThrow(FameExtensionError);
  });
});

describe("URI name constraints", () => {
  const nc = decodeNameConstraints(encodeUriNameConstraints(["fame.fabric"]));

  it("round-trips", () => {
    expect(nc.permittedUris).toEqual(["fame.fabric"]);
    expect(nc.excludedUris).toEqual([]);
  });

  it("constrains the URI host exactly (RFC 5280 4.2.1.10)", () => {
    const check = (uri: string) => nameConstraintViolation(nc, { uris: [uri], dns: [] });
    expect(check("spiffe://fame.fabric/nodes/a")).toBeNull();
    expect(check("spiffe://FAME.fabric/nodes/a")).toBeNull();
    expect(check("spiffe://other.domain/nodes/a")).not.toBeNull();
    expect(check("spiffe://sub.fame.fabric/nodes/a")).not.toBeNull();
    expect(check("spiffe://evilfame.fabric/nodes/a")).not.toBeNull();
    expect(check("spiffe://x@other.domain:1/nodes/a")).not.toBeNull();
    expect(check("urn:no-authority")).not.toBeNull();
  });

  it("a leading dot permits subdomains only; excluded subtrees win", () => {
    const sub = decodeNameConstraints(encodeUriNameConstraints([".fame.fabric"], ["bad.fame.fabric"]));
    expect(nameConstraintViolation(sub, { uris: ["spiffe://a.fame.fabric/x"], dns: [] })).toBeNull();
    expect(nameConstraintViolation(sub, { uris: ["spiffe://fame.fabric/x"], dns: [] })).not.toBeNull();
    expect(nameConstraintViolation(sub, { uris: ["spiffe://bad.fame.fabric/x"], dns: [] })).not.toBeNull();
  });
});
