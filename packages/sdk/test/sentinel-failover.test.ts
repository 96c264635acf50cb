/**
 * A node in a cluster of sentinels: admission lists them all, and when the node's sentinel
 * is unreachable it re-admits and attaches to the next one. One FakeSentinel stands for the
 * cluster (its members share state, as the KV makes them); `kill(url)` takes a member down.
 */
import type { Envelope } from "@fame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { type ConnectionEvents, FabricConnection } from "../src/connection/fabric-connection.js";
import { NodeSigner } from "../src/connection/node-signer.js";
import { PeerKeyDirectory } from "../src/connection/peer-keys.js";
import { SentinelChoice } from "../src/connection/sentinel-choice.js";
import { FakeSentinel, quietLogger } from "./support/fake-sentinel.js";

const A = "wss://sentinel-a/fame/v1/attach/ws/downstream";
const B = "wss://sentinel-b/fame/v1/attach/ws/downstream";
const C = "wss://sentinel-c/fame/v1/attach/ws/downstream";

const live: FabricConnection[] = [];
afterEach(async () => {
  for (const c of live.splice(0)) await c.close();
});

interface Recorder extends ConnectionEvents {
  envelopes: Envelope[];
  reattached: boolean[];
}

function recorder(): Recorder {
  const envelopes: Envelope[] = [];
  const reattached: boolean[] = [];
  return {
    envelopes,
    reattached,
    onEnvelope: (env) => envelopes.push(env),
    onDisconnected: () => {},
    onReattached: (sameSid) => reattached.push(sameSid),
  };
}

/**
 * A node whose every admission answers like Welcome in a cluster: placed on `preferred()`,
 * all of A, B, C listed, and a fresh key each time (a new certificate per admission).
 */
function clusterNode(
  sentinel: FakeSentinel,
  name: string,
  events: ConnectionEvents,
  preferred: () => string = () => A,
) {
  const admissions: NodeSigner[] = [];
  const c = new FabricConnection(
    {
      securityProfile: "overlay",
      plan: async () => {
        const signer = NodeSigner.generate();
        admissions.push(signer);
        return {
          url: preferred(),
          urls: [A, B, C],
          systemId: name,
          instanceId: `inst_${name}`,
          logicals: [],
          signer,
        };
      },
      peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
      log: quietLogger(),
      controlTimeoutMs: 1000,
      reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
    },
    events,
    sentinel.dialer(name),
  );
  live.push(c);
  return { c, admissions };
}

const dialsOf = (sentinel: FakeSentinel, name: string) => sentinel.dialed.filter((d) => d.name === name);

describe("SentinelChoice", () => {
  it("keeps Welcome's order, without repeats, and puts the sentinels that failed in this outage last", () => {
    const choice = new SentinelChoice();
    expect(choice.order(A, undefined)).toEqual([A]);
    expect(choice.order(B, [A, B, C, A])).toEqual([B, A, C]);
    choice.markFailed(B);
    choice.markFailed(A);
    expect(choice.order(B, [A, B, C])).toEqual([C, B, A]);
    choice.attached();
    expect(choice.order(B, [A, B, C])).toEqual([B, A, C]);
  });
});

describe("failover between the sentinels of a cluster", () => {
  it("its sentinel dies: re-admits, attaches to the next one with the same sid, never redials the dead one", async () => {
    const sentinel = new FakeSentinel();
    const events = recorder();
    // Welcome's registry still lists A as the preferred one: its heartbeat has not aged out yet
    const { c, admissions } = clusterNode(sentinel, "client", events);
    await c.start();
    expect(c.sentinelUrl).toBe(A);
    const sid = c.sid;

    sentinel.kill(A);
    await expect.poll(() => sentinel.dials.get("client"), { timeout: 3000 }).toBe(2);
    expect(await c.whenAttached(3000)).toBe(true);
    expect(c.sentinelUrl).toBe(B);
    expect(c.sid).toBe(sid);
    expect(events.reattached).toEqual([true]);
    // one admission per attach (a ticket is single use); A was not dialled again
    expect(admissions).toHaveLength(2);
    expect(dialsOf(sentinel, "client").map((d) => d.url)).toEqual([A, B]);
  });

  it("a peer learns the node's new key after the re-admission (KeyRequest for the unknown kid)", async () => {
    const sentinel = new FakeSentinel();
    const peerEvents = recorder();
    const peer = new FabricConnection(
      {
        securityProfile: "overlay",
        plan: async () => ({
          url: C,
          systemId: "peer",
          instanceId: "inst_peer",
          logicals: [],
          signer: NodeSigner.generate(),
        }),
        peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
        log: quietLogger(),
        controlTimeoutMs: 1000,
      },
      peerEvents,
      sentinel.dialer("peer"),
    );
    live.push(peer);
    await peer.start();
    const { c, admissions } = clusterNode(sentinel, "client", recorder());
    await c.start();
    const hello = (n: number) =>
      c.send({
        to: peer.replyAddress,
        replyTo: c.replyAddress,
        frame: { type: "Data", codec: "json", payload: { n } },
      });
    hello(1);
    await expect.poll(() => peerEvents.envelopes.length).toBe(1);

    sentinel.kill(A);
    await expect.poll(() => sentinel.dials.get("client"), { timeout: 3000 }).toBe(2);
    expect(await c.whenAttached(3000)).toBe(true);
    hello(2);
    await expect.poll(() => peerEvents.envelopes.length).toBe(2);
    const kids = sentinel.sent("peer", "KeyRequest").map((e) => (e.frame as { kid: string }).kid);
    expect(kids).toEqual(admissions.map((s) => s.jwk.kid));
    expect(peerEvents.envelopes.map((e) => e.sid)).toEqual([c.sid, c.sid]);
  });

  it("start: a dead preferred sentinel costs one refused dial, then the next one answers", async () => {
    const sentinel = new FakeSentinel();
    sentinel.down.add(A);
    const { c, admissions } = clusterNode(sentinel, "client", recorder());
    await c.start();
    expect(c.sentinelUrl).toBe(B);
    expect(admissions).toHaveLength(1);
    expect(dialsOf(sentinel, "client")).toEqual([
      { name: "client", url: A, refused: true },
      { name: "client", url: B, refused: false },
    ]);
  });

  it("every sentinel down: each attempt dials each at most once, after a backoff wait; attaches when one returns", async () => {
    const sentinel = new FakeSentinel();
    const { c, admissions } = clusterNode(sentinel, "client", recorder(), () => B);
    await c.start();
    sentinel.down.add(B);
    sentinel.down.add(C);
    sentinel.kill(A);
    sentinel.kill(B);
    await expect.poll(() => dialsOf(sentinel, "client").length, { timeout: 5000 }).toBeGreaterThanOrEqual(10);
    sentinel.revive(C);
    expect(await c.whenAttached(3000)).toBe(true);
    expect(c.sentinelUrl).toBe(C);
    const dials = dialsOf(sentinel, "client");
    // attempts after the first attach: one admission each, and at most three dials per admission
    expect(dials.length - 1).toBeLessThanOrEqual(3 * (admissions.length - 1));
    // within one attempt no URL twice: refused dials come in rounds of distinct URLs
    const rounds = dials.slice(1).map((d) => d.url);
    for (let i = 0; i + 2 < rounds.length; i += 3) expect(new Set(rounds.slice(i, i + 3)).size).toBe(3);
  });
});
