import { defaultBackend } from "@fame/crypto";
import {
  base64urlEncode,
  CLEAR_BATCH_CAPABILITY,
  type Envelope,
  ed25519KeyId,
  makeEnvelope,
  NOT_EXECUTED_META,
} from "@fame/protocol";
import {
  encodeForward,
  MAX_KEY_WAITERS,
  MAX_KEY_WAITERS_PER_NODE,
  MAX_KEY_WAITERS_PER_PRINCIPAL,
  MOVE_REBIND_GRACE_MS,
} from "@fame/sentinel";
import { afterEach, describe, expect, it } from "vitest";
import { attach, type Cluster, record, startCluster } from "./cluster-harness.js";
import { issueAft, type TestNode } from "./test-node.js";

/**
 * Routing between sentinels: two (or three) Sentinel instances of one cluster, sharing a
 * memory node directory and pin store, linked in process. A replica on one sentinel serves a
 * client on another over a channel; the insider rules hold where the state lives.
 */

const MATH = "math@fame.fabric";
const ephPub = base64urlEncode(defaultBackend().x25519Keygen().publicKey);
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const replyOf = (n: TestNode) => `rpc@${n.session.path}`;

function sealed(
  from: TestNode,
  to: string,
  cid: string,
  seq: number,
  extra: Partial<Envelope> = {},
): Envelope {
  return makeEnvelope({
    sid: from.session.sid,
    to,
    frame: { type: "Data", codec: "enc", ct: base64urlEncode(new Uint8Array(48).fill(seq)) },
    sec: { enc: { alg: "chacha20-poly1305-channel", cid, seq, kid: "k", ac: "AAAAAAAAAAA" } },
    ...extra,
  });
}

/** sentinels A and B (and C); replica r on B serving MATH, client c on A, known to both */
async function fabric(ids = ["A", "B"]) {
  cluster = startCluster(ids);
  const [a, b] = cluster.members as [NonNullable<Cluster["members"][0]>, NonNullable<Cluster["members"][0]>];
  const r = await attach(b, "r", ["*.fame.fabric"]);
  await r.send({ frame: { type: "AddressBind", address: MATH } });
  await record(a.state, "r", (rec) => rec.addresses.includes(MATH));
  const c = await attach(a, "c");
  await record(b.state, "c");
  const open = (cid: string) =>
    c.send({
      to: MATH,
      replyTo: replyOf(c),
      corrId: cid,
      frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
    });
  const accept = async (cid: string) =>
    r.send({
      to: replyOf(c),
      corrId: cid,
      frame: { type: "SecureAccept", cid, ok: true, ephPub, aft: await issueAft(r, c, cid) },
    });
  return { cluster, a, b, r, c, open, accept };
}

describe("routing between sentinels", () => {
  it("opens a channel across sentinels, pins it in the shared store and carries data both ways", async () => {
    const { a, b, r, c, open, accept } = await fabric();
    await open("ch1");
    const opened = await r.link.nth("SecureOpen");
    expect(opened.sid).toBe(c.session.sid);
    await accept("ch1");
    await c.link.nth("SecureAccept");
    // the pin was recorded by the client's sentinel, and the replica's sentinel sees it
    expect(a.state.pins.get(c.session.sid, "ch1")?.replicaSystemId).toBe("r");
    expect(b.state.pins.get(c.session.sid, "ch1")?.replicaSystemId).toBe("r");

    await c.sendRaw(sealed(c, MATH, "ch1", 1, { replyTo: replyOf(c), corrId: "q1" }));
    const request = await r.link.nth("Data");
    expect(request.corrId).toBe("q1");
    expect(a.sentinel.inflight.size).toBe(1);
    await r.sendRaw(sealed(r, replyOf(c), "ch1", 1, { corrId: "q1" }));
    const reply = await c.link.nth("Data");
    expect(reply.sid).toBe(r.session.sid);
    expect(a.sentinel.inflight.size).toBe(0);
    // open, data out; accept, reply in: counted on the status page and /metrics
    expect(a.sentinel.status()["cluster"]).toMatchObject({
      remoteNodes: 1,
      forwardedOut: 2,
      forwardedIn: 2,
      badIn: 0,
    });
    expect(a.sentinel.metricsText()).toContain('fame_sentinel_cluster_messages_total{kind="out"} 2');
    expect(a.sentinel.metricsText()).toContain("fame_sentinel_cluster_remote_nodes 1");
  });

  it("answers a KeyRequest for a node on another sentinel from the directory's keys", async () => {
    const { r, c } = await fabric();
    await c.send({ replyTo: replyOf(c), corrId: "k1", frame: { type: "KeyRequest", kid: r.kid } });
    const announce = await c.link.nth("KeyAnnounce");
    expect(announce.frame).toMatchObject({ type: "KeyAnnounce", sid: r.session.sid, keys: [{ kid: r.kid }] });
  });

  it("answers a KeyRequest for a node whose directory record is not here yet once the record arrives", async () => {
    cluster = startCluster(["A", "B"]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const c = await attach(a, "c");
    // "late" attaches to B after c asked for its key (its first signed frame outran its record)
    const lateSeed = defaultBackend().ed25519Keygen().seed;
    const lateKid = ed25519KeyId(defaultBackend().ed25519ImportSigningKey(lateSeed).publicKey);
    await c.send({ replyTo: replyOf(c), corrId: "k2", frame: { type: "KeyRequest", kid: lateKid } });
    const late = await attach(b, "late", [], [], lateSeed);
    const announce = await c.link.nth("KeyAnnounce");
    expect(announce.corrId).toBe("k2");
    expect(announce.frame).toMatchObject({ sid: late.session.sid, keys: [{ kid: lateKid }] });
  });

  it("waits for an unknown key's record a bounded time, and for a bounded number of requests", async () => {
    cluster = startCluster(["A", "B"]);
    const route = cluster.members[0]!.sentinel.cluster!.route;
    expect(await route.awaitKeyOwner("k-never", 20, "n0", "p0")).toBeUndefined();
    // one node asking for made-up kids holds its own share of the places, no more
    const greedy = Array.from({ length: MAX_KEY_WAITERS_PER_NODE }, (_, i) =>
      route.awaitKeyOwner(`g-${i}`, 60_000, "greedy", "mallory"),
    );
    expect(await route.awaitKeyOwner("g-one-more", 60_000, "greedy", "mallory")).toBeUndefined();
    // and its credential's nodes together hold their share, however many nodes it starts
    const crowd = Array.from({ length: MAX_KEY_WAITERS_PER_PRINCIPAL - MAX_KEY_WAITERS_PER_NODE }, (_, i) =>
      route.awaitKeyOwner(`m-${i}`, 60_000, `mallory-${Math.floor(i / MAX_KEY_WAITERS_PER_NODE)}`, "mallory"),
    );
    expect(await route.awaitKeyOwner("m-one-more", 60_000, "mallory-new", "mallory")).toBeUndefined();
    const waiting = Array.from({ length: MAX_KEY_WAITERS - MAX_KEY_WAITERS_PER_PRINCIPAL }, (_, i) =>
      route.awaitKeyOwner(`k-${i}`, 60_000, `n${i % 64}`, `p${i % 8}`),
    );
    // past the bound a request is answered at once
    expect(await route.awaitKeyOwner("k-one-more", 60_000, "another", "p-another")).toBeUndefined();
    waiting.push(...greedy, ...crowd);
    // leaving the cluster answers every waiting request
    route.close();
    expect((await Promise.all(waiting)).every((o) => o === undefined)).toBe(true);
  });

  it("routes a channel to its pinned replica after the client moved to another sentinel, with no new open", async () => {
    const { cluster, r, c, open, accept } = await fabric(["A", "B", "C"]);
    const third = cluster.members[2]!;
    await open("ch2");
    await r.link.nth("SecureOpen");
    await accept("ch2");
    await c.link.nth("SecureAccept");
    // the client's connection to A ends; it attaches to C under the same systemId (same path, same sid)
    c.session.link.close(1001, "moving");
    cluster.members[0]!.sentinel.close(c.session, "moving");
    const moved = await attach(third, "c");
    expect(moved.session.sid).toBe(c.session.sid);
    await record(cluster.members[1]!.state, "c", (rec) => rec.sentinelId === "C");
    await moved.sendRaw(sealed(moved, MATH, "ch2", 2, { replyTo: replyOf(moved), corrId: "q2" }));
    const request = await r.link.next((e) => e.corrId === "q2", "data after the move");
    expect(request.sec?.enc?.cid).toBe("ch2");
    expect(r.link.frames("SecureOpen")).toHaveLength(1);
    await r.sendRaw(sealed(r, replyOf(moved), "ch2", 2, { corrId: "q2" }));
    const reply = await moved.link.nth("Data");
    expect(reply.corrId).toBe("q2");
  });

  it("follows a replica that re-attached to another sentinel: its pinned channel continues there", async () => {
    const { cluster, a, b, r, c, open, accept } = await fabric(["A", "B", "C"]);
    await open("ch8");
    await r.link.nth("SecureOpen");
    await accept("ch8");
    await c.link.nth("SecureAccept");
    // r's sentinel loses it; r attaches to C under the same systemId (same path and sid) and binds again
    r.session.link.close(1001, "moving");
    b.sentinel.close(r.session, "moving");
    const moved = await attach(cluster.members[2]!, "r", ["*.fame.fabric"]);
    await moved.send({ frame: { type: "AddressBind", address: MATH } });
    await record(a.state, "r", (rec) => rec.sentinelId === "C" && rec.addresses.includes(MATH));
    await c.sendRaw(sealed(c, MATH, "ch8", 1, { replyTo: replyOf(c), corrId: "after-move" }));
    const request = await moved.link.next((e) => e.corrId === "after-move", "data at the moved replica");
    expect(request.sec?.enc?.cid).toBe("ch8");
    expect(c.link.frames("SecureAccept")).toHaveLength(1);
    await moved.sendRaw(sealed(moved, replyOf(c), "ch8", 1, { corrId: "after-move" }));
    expect((await c.link.nth("Data")).corrId).toBe("after-move");
  });

  it("keeps a moved replica in its pools until its new sentinel records its binds: the resent call is not refused no_route", async () => {
    const { cluster, a, b, r, c, open, accept } = await fabric(["A", "B", "C"]);
    await open("ch10");
    await r.link.nth("SecureOpen");
    await accept("ch10");
    await c.link.nth("SecureAccept");
    b.sentinel.leaveCluster();
    await b.state.close();
    // r is at C, not bound yet: its first record there lists no address
    const moved = await attach(cluster.members[2]!, "r", ["*.fame.fabric"]);
    await record(a.state, "r", (rec) => rec.sentinelId === "C");
    expect(a.sentinel.cluster!.route.bySystemId("r")?.remote?.owner).toBe("C");
    await c.sendRaw(sealed(c, MATH, "ch10", 1, { replyTo: replyOf(c), corrId: "in-window" }));
    const request = await moved.link.next((e) => e.corrId === "in-window", "data in the rebind window");
    expect(request.sec?.enc?.cid).toBe("ch10");
    expect(
      c.link.frames("DeliveryAck").filter((e) => e.frame.type === "DeliveryAck" && !e.frame.ok),
    ).toHaveLength(0);
    // its binds recorded: the record applies as usual
    await moved.send({ frame: { type: "AddressBind", address: MATH } });
    await record(a.state, "r", (rec) => rec.sentinelId === "C" && rec.addresses.includes(MATH));
    await c.sendRaw(sealed(c, MATH, "ch10", 2, { replyTo: replyOf(c), corrId: "bound" }));
    await moved.link.next((e) => e.corrId === "bound", "data after the bind");
  });

  it("drops a moved replica's old pool memberships after the grace when it binds nothing", async () => {
    const { cluster, a, b, r } = await fabric(["A", "B", "C"]);
    expect(a.sentinel.cluster!.route.bySystemId("r")).toBeDefined();
    b.sentinel.leaveCluster();
    await b.state.close();
    await attach(cluster.members[2]!, "r", []);
    await record(a.state, "r", (rec) => rec.sentinelId === "C");
    expect(a.sentinel.registry.resolve(MATH)?.size).toBe(1);
    await new Promise((done) => setTimeout(done, MOVE_REBIND_GRACE_MS + 200));
    expect(a.sentinel.registry.resolve(MATH)?.size ?? 0).toBe(0);
    expect(r.session.sid).toBe(a.sentinel.cluster!.route.bySystemId("r")?.sid);
  });

  it("follows a replica whose sentinel died (no withdraw): the newer record moves its remote session", async () => {
    const { cluster, a, b, r, c, open, accept } = await fabric(["A", "B", "C"]);
    await open("ch9");
    await r.link.nth("SecureOpen");
    await accept("ch9");
    await c.link.nth("SecureAccept");
    // a call that reached r through B, and is lost with B
    await c.sendRaw(sealed(c, MATH, "ch9", 1, { replyTo: replyOf(c), corrId: "lost" }));
    await r.link.next((e) => e.corrId === "lost", "the call at r through B");
    // B stops without a word: no withdraw, no more refreshes, nothing heard on its subject
    b.sentinel.leaveCluster();
    await b.state.close();
    const before = a.sentinel.cluster!.route.bySystemId("r");
    const moved = await attach(cluster.members[2]!, "r", ["*.fame.fabric"]);
    await moved.send({ frame: { type: "AddressBind", address: MATH } });
    await record(a.state, "r", (rec) => rec.sentinelId === "C" && rec.addresses.includes(MATH));
    // the call lost with B is answered as soon as r shows up at C, not at the caller's timeout
    const lost = await c.link.nack("replica_unavailable");
    expect(lost.corrId).toBe("lost");
    // r still holds the channel: the client resends on it instead of opening a new one
    expect(lost.meta?.["channelKept"]).toBe(true);
    expect(a.sentinel.inflight.size).toBe(0);
    // the same remote session, now at C: pools and pins that name it need no change
    expect(a.sentinel.cluster!.route.bySystemId("r")).toBe(before);
    expect(before?.remote?.owner).toBe("C");
    await c.sendRaw(sealed(c, MATH, "ch9", 2, { replyTo: replyOf(c), corrId: "after-death" }));
    const request = await moved.link.next((e) => e.corrId === "after-death", "data at the moved replica");
    expect(request.sec?.enc?.cid).toBe("ch9");
  });

  it("refuses a stranger's SecureAccept for a pending open of a client on another sentinel", async () => {
    const { a, b, r, c, open, accept } = await fabric();
    const mallory = await attach(b, "mallory");
    await open("ch3");
    await r.link.nth("SecureOpen");
    await mallory.send({
      to: replyOf(c),
      corrId: "ch3",
      frame: { type: "SecureAccept", cid: "ch3", ok: true, ephPub, aft: await issueAft(mallory, c, "ch3") },
    });
    const refused = await mallory.link.nack("not_authorized");
    expect(refused.meta?.["notExecuted"]).toBe(true);
    // decided by the client's sentinel, which holds the pending open
    expect(a.sentinel.counters.authzRefused).toBe(1);
    expect(b.sentinel.counters.authzRefused).toBe(0);
    expect(c.link.frames("SecureAccept")).toHaveLength(0);
    // the client's open is still pending: the asked replica's accept goes through
    await accept("ch3");
    await c.link.nth("SecureAccept");
  });

  it("keeps the pin when a third node sends SecureClose for the channel", async () => {
    const { a, b, r, c, open, accept } = await fabric();
    const mallory = await attach(b, "mallory");
    await open("ch4");
    await r.link.nth("SecureOpen");
    await accept("ch4");
    await c.link.nth("SecureAccept");
    await mallory.send({ to: replyOf(c), frame: { type: "SecureClose", cid: "ch4" } });
    await mallory.link.nack("not_authorized");
    expect(c.link.frames("SecureClose")).toHaveLength(0);
    expect(a.state.pins.get(c.session.sid, "ch4")).toBeDefined();
    expect(a.stickiness.pinOf("ch4")?.replica.id).toBe("r");
    // the channel's own replica may close it: the pin goes everywhere
    await r.send({ to: replyOf(c), frame: { type: "SecureClose", cid: "ch4" } });
    await c.link.nth("SecureClose");
    expect(a.state.pins.get(c.session.sid, "ch4")).toBeUndefined();
    // B read the pin to check the close; the store's delete took its copy too
    expect(a.stickiness.size).toBe(0);
    expect(b.stickiness.size).toBe(0);
  });

  it("refuses a reply from a node the call was not routed to", async () => {
    const { a, b, r, c, open, accept } = await fabric();
    const mallory = await attach(b, "mallory");
    await open("ch5");
    await r.link.nth("SecureOpen");
    await accept("ch5");
    await c.link.nth("SecureAccept");
    await c.sendRaw(sealed(c, MATH, "ch5", 1, { replyTo: replyOf(c), corrId: "call" }));
    await r.link.nth("Data");
    await mallory.send({
      to: replyOf(c),
      corrId: "call",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "call", result: 42 } },
    });
    await mallory.link.nack("not_authorized");
    expect(c.link.frames("Data")).toHaveLength(0);
    // decided by the client's sentinel, which tracks the call in flight
    expect(a.sentinel.counters.authzRefused).toBe(1);
    expect(b.sentinel.counters.authzRefused).toBe(0);
    await r.sendRaw(sealed(r, replyOf(c), "ch5", 1, { corrId: "call" }));
    expect((await c.link.nth("Data")).sid).toBe(r.session.sid);
  });

  it("delivers a clear batch of calls placed on a replica of another sentinel only if that replica takes batches", async () => {
    cluster = startCluster(["A", "B"]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const batchTo = (c: TestNode, to: string, ids: string[]) =>
      c.send({
        to,
        replyTo: replyOf(c),
        frame: {
          type: "Data",
          codec: "json",
          payload: ids.map((id) => ({ jsonrpc: "2.0", id, method: "add" })),
          batch: ids.map((corrId) => ({ corrId })),
        },
      });
    // a hand-written replica on B (announces nothing) and one of this SDK (announces clear-batch)
    const old = await attach(b, "old", ["*.fame.fabric"]);
    await old.send({ frame: { type: "AddressBind", address: "legacy@fame.fabric" } });
    const sdk = await attach(b, "sdk", ["*.fame.fabric"], [CLEAR_BATCH_CAPABILITY]);
    await sdk.send({ frame: { type: "AddressBind", address: MATH } });
    await record(a.state, "old", (rec) => rec.addresses.includes("legacy@fame.fabric"));
    await record(a.state, "sdk", (rec) => rec.addresses.includes(MATH));
    const c = await attach(a, "c", [], [CLEAR_BATCH_CAPABILITY]);
    await record(b.state, "c");
    // A cannot see what "old" announced: B refuses the batch, not executed, one nack per call
    await batchTo(c, "legacy@fame.fabric", ["q1", "q2"]);
    const refused = await c.link.nack("unknown_frame");
    expect(refused.meta?.[NOT_EXECUTED_META]).toBe(true);
    await c.link.nth("DeliveryAck", 2);
    expect(c.link.frames("DeliveryAck").map((e) => e.corrId)).toEqual(["q1", "q2"]);
    expect(old.link.frames("Data")).toHaveLength(0);
    // the SDK replica gets its batch as one frame
    await batchTo(c, MATH, ["q3", "q4", "q5"]);
    const got = await sdk.link.nth("Data");
    expect(got.frame).toMatchObject({ batch: [{ corrId: "q3" }, { corrId: "q4" }, { corrId: "q5" }] });
  });

  it("answers calls in flight with replica_unavailable when the replica on another sentinel leaves", async () => {
    const { a, b, r, c, open, accept } = await fabric();
    await open("ch7");
    await r.link.nth("SecureOpen");
    await accept("ch7");
    await c.link.nth("SecureAccept");
    await c.sendRaw(sealed(c, MATH, "ch7", 1, { replyTo: replyOf(c), corrId: "pending" }));
    await r.link.nth("Data");
    expect(a.sentinel.inflight.size).toBe(1);
    r.session.link.close(1001, "gone");
    b.sentinel.close(r.session, "gone");
    const refused = await c.link.nack("replica_unavailable");
    expect(refused.corrId).toBe("pending");
    // r left the cluster: its channels are gone with it
    expect(refused.meta?.["channelKept"]).toBeUndefined();
    expect(a.sentinel.inflight.size).toBe(0);
    expect(a.sentinel.cluster?.route.bySystemId("r")).toBeUndefined();
  });

  it("answers no_route through the sender's sentinel for a node no longer attached where a frame was sent", async () => {
    const { cluster, b, c } = await fabric();
    // A forwarded a frame to B for a node that has just left B (A's directory not caught up yet)
    const env = makeEnvelope({
      sid: c.session.sid,
      to: "rpc@/fabric/gone",
      corrId: "lost",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "lost", result: 1 } },
    });
    const from = {
      systemId: "c",
      sid: c.session.sid,
      path: c.session.path,
      principal: "",
      instanceId: "i-c",
    };
    cluster.links.publish("B", encodeForward({ k: "p", src: "A", to: "gone", from }, JSON.stringify(env)));
    const refused = await c.link.nack("no_route");
    expect(refused.corrId).toBe("lost");
    expect(b.sentinel.cluster?.route.counters.noRouteIn).toBe(1);
  });

  it("refuses malformed messages from the links and keeps routing", async () => {
    const { cluster, a, r, c, open } = await fabric();
    const garbage = [
      Buffer.from("not a forward"),
      Buffer.from('{"k":"p","src":"B","to":"c"}\n{}'),
      Buffer.from(`{"k":"d","src":"B","to":"c"}\n${"x".repeat(70 * 1024)}`),
      Buffer.from(
        `{"k":"p","src":"B","to":"c","from":{"systemId":"r","sid":"forged","path":"/fabric/r","principal":"","instanceId":"i"}}\n` +
          JSON.stringify(
            makeEnvelope({ sid: r.session.sid, to: replyOf(c), frame: { type: "SecureClose", cid: "x" } }),
          ),
      ),
    ];
    for (const g of garbage) cluster.links.publish("A", g);
    await open("ch6");
    await r.link.nth("SecureOpen");
    expect(a.sentinel.cluster?.route.counters.badIn).toBe(garbage.length);
    expect(c.link.frames("SecureClose")).toHaveLength(0);
  });
});
