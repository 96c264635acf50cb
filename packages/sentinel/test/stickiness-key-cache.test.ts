import { randomBytes } from "node:crypto";
import { ed25519PublicKeyOf } from "@fame/identity";
import { describe, expect, it } from "vitest";
import { ReplicaKeyCache } from "../src/stickiness/index.js";

const pub = ed25519PublicKeyOf(new Uint8Array(randomBytes(32)));
const otherSeed = new Uint8Array(randomBytes(32));

describe("ReplicaKeyCache", () => {
  it("imports once per key and re-imports when a replica's key changes", async () => {
    let current: Uint8Array | undefined = pub;
    let lookups = 0;
    const cache = new ReplicaKeyCache(() => {
      lookups++;
      return current;
    }, 2);
    const k1 = await cache.get("r1");
    expect(await cache.get("r1")).toBe(k1);
    current = ed25519PublicKeyOf(otherSeed);
    const k2 = await cache.get("r1");
    expect(k2).toBeDefined();
    expect(k2).not.toBe(k1);
    current = undefined;
    expect(await cache.get("r1")).toBeUndefined();
    expect(cache.size).toBe(0);
    current = pub;
    await cache.get("a");
    await cache.get("b");
    await cache.get("c");
    expect(cache.size).toBe(2);
    // A wrong-length key is treated as no key at all.
    current = new Uint8Array(16);
    expect(await cache.get("z")).toBeUndefined();
    expect(lookups).toBeGreaterThan(0);
  });
});
