import { randomBytes } from "node:crypto";
import { defaultBackend } from "@fame/crypto";
import { AftSigner, ed25519PublicKeyOf } from "@fame/identity";
import { base64urlEncode } from "@fame/protocol";
import { AFTLoadBalancerStickinessManager, NodeSession, SessionDirectory } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { FakeLink } from "./fake-link.js";

const backend = defaultBackend();
let next = 0;

/** an attached session of `systemId`, with one real Ed25519 key */
function attached(systemId: string, seed = new Uint8Array(randomBytes(32))): NodeSession {
  const s = new NodeSession(`conn-${next++}`, new FakeLink(), 0);
  s.state = "attached";
  s.id = systemId;
  s.systemId = systemId;
  s.sid = `sid-${systemId}`;
  s.path = `/s0/${systemId}`;
  const publicKey = ed25519PublicKeyOf(seed);
  const kid = `k-${systemId}`;
  s.keys.set(kid, {
    kid,
    publicKey,
    verifyKey: backend.ed25519ImportVerifyKey(publicKey),
    jwk: { kty: "OKP", crv: "Ed25519", x: base64urlEncode(publicKey), kid },
  });
  return s;
}

describe("SessionDirectory", () => {
  it("finds an attached session by systemId, sid, key id and physical path", () => {
    const d = new SessionDirectory();
    const a = attached("a");
    d.opened(a);
    expect(d.connectionCount).toBe(1);
    expect(d.attachedCount).toBe(0);
    expect(d.bySystemId("a")).toBeUndefined();
    d.attached(a);
    expect(d.attachedCount).toBe(1);
    expect(d.bySystemId("a")).toBe(a);
    expect(d.bySid("sid-a")).toBe(a);
    expect(d.keyOwner("k-a")).toBe(a);
    expect(d.byPath("/s0/a")).toBe(a);
    // the last segment names the node, but the whole path must match
    expect(d.byPath("/other/a")).toBeUndefined();
    expect(d.replicaKeyOf("a")).toEqual(a.keys.get("k-a")?.publicKey);
    expect(d.replicaBySid("sid-a")).toBe("a");
    expect(d.replicaBySid("sid-b")).toBeUndefined();
  });

  it("keeps a superseding connection indexed when the superseded one is removed", () => {
    const d = new SessionDirectory();
    const old = attached("a");
    d.opened(old);
    d.attached(old);
    const fresh = attached("a");
    d.opened(fresh);
    d.attached(fresh);
    expect(d.connectionCount).toBe(2);
    d.remove(old);
    expect(d.connectionCount).toBe(1);
    expect(d.bySystemId("a")).toBe(fresh);
    expect(d.bySid("sid-a")).toBe(fresh);
    expect(d.keyOwner("k-a")).toBe(fresh);
    d.remove(fresh);
    expect([d.connectionCount, d.attachedCount]).toEqual([0, 0]);
    expect(d.keyOwner("k-a")).toBeUndefined();
    expect(d.replicaKeyOf("a")).toBeUndefined();
  });

  it("removes a connection that never attached from the connections only", () => {
    const d = new SessionDirectory();
    const a = attached("a");
    d.opened(a);
    d.attached(a);
    const pending = new NodeSession("conn-pending", new FakeLink(), 0);
    d.opened(pending);
    d.remove(pending);
    expect([...d.all()]).toEqual([a]);
    expect(d.bySystemId("a")).toBe(a);
  });

  it("is the replica directory a stickiness manager is built with: AFTs verify against the key a replica attached with", async () => {
    const seed = new Uint8Array(randomBytes(32));
    const d = new SessionDirectory();
    const replica = attached("r", seed);
    d.opened(replica);
    d.attached(replica);
    const mgr = new AFTLoadBalancerStickinessManager({ securityLevel: "strict" }, { directory: d });
    const aft = await new AftSigner(seed).issue({ sid: replica.sid, cid: "c1", clientSid: "sid-client" });
    const accept = { replicaId: "r", replicaSid: replica.sid, clientSid: "sid-client", cid: "c1", aft };
    await expect(mgr.onSecureAccept(accept)).resolves.toMatchObject({ pinned: true, replicaId: "r" });
    // the replica's key is gone with its connection: a new pin to it fails closed
    d.remove(replica);
    await expect(mgr.onSecureAccept({ ...accept, cid: "c2" })).resolves.toMatchObject({ pinned: false });
  });
});

describe("SessionDirectory.replaceKeys (a node's renewed key)", () => {
  const keyOf = (kid: string, notAfter?: number) => {
    const publicKey = ed25519PublicKeyOf(new Uint8Array(randomBytes(32)));
    return {
      kid,
      publicKey,
      verifyKey: backend.ed25519ImportVerifyKey(publicKey),
      jwk: { kty: "OKP" as const, crv: "Ed25519" as const, x: base64urlEncode(publicKey), kid },
      ...(notAfter === undefined ? {} : { notAfter }),
    };
  };

  it("puts the new key first, keeps old ones until they expire, indexes them, and bounds the count", () => {
    const d = new SessionDirectory();
    const a = attached("a");
    a.keys.clear();
    a.keys.set("old", keyOf("old", 2_000));
    a.keys.set("expired", keyOf("expired", 500));
    d.opened(a);
    d.attached(a);
    expect(d.keyOwner("expired")).toBe(a);
    d.replaceKeys(a, [keyOf("new", 5_000)], 1_000);
    expect([...a.keys.keys()]).toEqual(["new", "old"]);
    expect(d.keyOwner("new")).toBe(a);
    expect(d.keyOwner("old")).toBe(a);
    expect(d.keyOwner("expired")).toBeUndefined();
    // renewed again and again: at most `max` keys, the newest first
    for (let i = 0; i < 6; i++) d.replaceKeys(a, [keyOf(`n${i}`, 9_000)], 1_000);
    expect([...a.keys.keys()]).toEqual(["n5", "n4", "n3", "n2"]);
    expect(d.keyOwner("old")).toBeUndefined();
    // a connection superseded meanwhile indexes nothing
    const stale = attached("a");
    d.replaceKeys(stale, [keyOf("ghost", 9_000)], 1_000);
    expect(d.keyOwner("ghost")).toBeUndefined();
  });
});
