/** FabricConnection's session over an in-memory link: attach, binding, reattach, verification. */
import { type Envelope, sidFromPath } from "@fame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  type ConnectionEvents,
  FabricConnection,
} from "../src/connection/fabric-connection.js";
import { NodeSigner } from "../src/connection/node-signer.js";
import { PeerKeyDirectory } from "../src/connection/peer-keys.js";
import { FakeSentinel, quietLogger } from "./support/fake-sentinel.js";

const live: FabricConnection[] = [];
afterEach(async () => {
  for (const c of live.splice(0)) await c.close();
});

function connection(
  sentinel: FakeSentinel,
  name: string,
  events?: ConnectionEvents,
  signer = NodeSigner.generate(),
  securityProfile: "open" | "overlay" = "overlay",
): FabricConnection {
  const c = new FabricConnection(
    {
      securityProfile,
      plan: async () => ({
        url: "wss://fake-sentinel/attach",
        systemId: name,
        instanceId: `inst_${name}`,
        logicals: [],
        signer,
      }),
      peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
      log: quietLogger(),
      controlTimeoutMs: 1000,
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
    },
    events,
    sentinel.dialer(name),
  );
  live.push(c);
  return c;
}

/** events that keep what the connection delivers */
function recorder(): ConnectionEvents & { envelopes: Envelope[]; lost: string[] } {
  const envelopes: Envelope[] = [];
  const lost: string[] = [];
  return {
    envelopes,
    lost,
    onEnvelope: (env) => envelopes.push(env),
    onDisconnected: (reason) => lost.push(reason),
  };
}

describe("FabricConnection over a NodeLink", () => {
  it("attaches with a signed NodeAttach and takes its path and sid from the answer", async () => {
    const sentinel = new FakeSentinel();
    const signer = NodeSigner.generate();
    const c = connection(sentinel, "node1", undefined, signer);
    await c.start();
    expect(c.state).toBe("attached");
    expect(c.path).toBe("/node1");
    expect(c.sid).toBe(sidFromPath("/node1"));
    expect(c.replyAddress).toBe("rpc@/node1");
    const [attach] = sentinel.sent("node1", "NodeAttach");
    expect(attach?.frame).toMatchObject({ systemId: "node1", keys: [signer.jwk] });
    const keys = new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 }));
    // signed before the node has a sid: under the placeholder it attaches with
    const [key] = await keys.learn([signer.jwk], attach!.sid);
    expect(keys.verify(attach!, key!)).toBe("ok");
  });

  it("in the open profile presents no key and offers none for AFTs (a tag no sentinel could verify)", async () => {
    const sentinel = new FakeSentinel();
    const open = connection(sentinel, "open1", undefined, NodeSigner.generate(), "open");
    const overlay = connection(sentinel, "overlay1");
    await open.start();
    await overlay.start();
    expect(sentinel.sent("open1", "NodeAttach")[0]?.frame).toMatchObject({ keys: [] });
    expect(open.nodeSigner).toBeUndefined();
    expect(overlay.nodeSigner).toBeInstanceOf(NodeSigner);
  });

  it("a refused attach rejects start() with the sentinel's code and leaves nothing open", async () => {
    const sentinel = new FakeSentinel();
    sentinel.refuseAttach = "not_authorized";
    const c = connection(sentinel, "node1");
    const err = await c.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe("not_authorized");
    expect(c.state).toBe("closed");
    expect(() => c.send({ frame: { type: "Heartbeat" } })).toThrow(/cannot send while closed/);
  });

  it("start() waits out busy answers (Retry-After) within FAME_START_WAIT_MS, and fails at once otherwise", async () => {
    const busy = (retryAfterSec: number) =>
      Object.assign(new Error("welcome: 503 saturated"), { retryAfterSec });
    const starting = (answers: Error[], startWaitMs: number) => {
      const sentinel = new FakeSentinel();
      let plans = 0;
      const c = new FabricConnection(
        {
          securityProfile: "overlay",
          plan: async () => {
            const answer = answers[plans++];
            if (answer !== undefined) throw answer;
            return {
              url: "wss://fake-sentinel/attach",
              systemId: "node1",
              instanceId: "inst_node1",
              logicals: [],
              signer: NodeSigner.generate(),
            };
          },
          peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
          log: quietLogger(),
          controlTimeoutMs: 1000,
          reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
          startWaitMs,
        },
        undefined,
        sentinel.dialer("node1"),
      );
      live.push(c);
      return { c, plans: () => plans };
    };
    // two busy answers asking for no particular wait, then admitted
    const patient = starting([busy(0), busy(0)], 5000);
    await patient.c.start();
    expect(patient.c.state).toBe("attached");
    expect(patient.plans()).toBe(3);
    // asked to wait longer than FAME_START_WAIT_MS allows: fails at the first answer, closed
    const hurried = starting([busy(60)], 5000);
    expect(await hurried.c.start().catch((e: unknown) => e)).toMatchObject({ retryAfterSec: 60 });
    expect(hurried.c.state).toBe("closed");
    // not a busy answer (no Retry-After): fails at once, whatever the wait allowed
    const refused = starting([new Error("invalid_client")], 5000);
    expect(await refused.c.start().catch((e: unknown) => (e as Error).message)).toBe("invalid_client");
    expect(refused.plans()).toBe(1);
    // FAME_START_WAIT_MS=0 keeps the old behaviour: the first busy answer fails start()
    const none = starting([busy(0)], 0);
    expect(await none.c.start().catch((e: unknown) => e)).toMatchObject({ retryAfterSec: 0 });
    expect(none.plans()).toBe(1);
  });

  it("close() during a busy wait ends start() at once", async () => {
    const sentinel = new FakeSentinel();
    const c = new FabricConnection(
      {
        securityProfile: "overlay",
        plan: async () => {
          throw Object.assign(new Error("sentinel: 429"), { retryAfterSec: 30 });
        },
        peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
        log: quietLogger(),
        startWaitMs: 120_000,
      },
      undefined,
      sentinel.dialer("node1"),
    );
    const started = c.start().catch((e: unknown) => e);
    await expect.poll(() => c.state).toBe("connecting");
    await c.close();
    expect(await started).toMatchObject({ code: "closed" });
  });

  it("refuses a ws:// URL before dialling", async () => {
    const sentinel = new FakeSentinel();
    const c = new FabricConnection(
      {
        securityProfile: "open",
        plan: async () => ({
          url: "ws://fake-sentinel/attach",
          systemId: "n",
          instanceId: "i",
          logicals: [],
          signer: NodeSigner.generate(),
        }),
        peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
        log: quietLogger(),
      },
      undefined,
      sentinel.dialer("n"),
    );
    const err = await c.start().catch((e: unknown) => e);
    expect((err as ConnectionError).code).toBe("insecure_transport");
    expect(sentinel.dials.get("n")).toBeUndefined();
  });

  it("after the link drops: reports it, dials again, reattaches and binds its addresses again", async () => {
    const sentinel = new FakeSentinel();
    const events = recorder();
    const c = connection(sentinel, "node1", events);
    await c.start();
    await c.bind("math@fame.fabric");
    expect(sentinel.node("node1").bound.has("math@fame.fabric")).toBe(true);

    sentinel.cut("node1");
    await expect.poll(() => events.lost.length).toBe(1);
    expect(["reconnecting", "attached"]).toContain(c.state);
    expect(await c.whenAttached(2000)).toBe(true);
    expect(sentinel.dials.get("node1")).toBe(2);
    expect(sentinel.sent("node1", "AddressBind").length).toBe(2);
    expect(sentinel.node("node1").bound.has("math@fame.fabric")).toBe(true);
  });

  it("a dial that fails keeps its unsent ticket for the next attempt; one about to expire is not reused", async () => {
    for (const [ticketLifeMs, reused] of [
      [60_000, true],
      [3_000, false],
    ] as const) {
      const sentinel = new FakeSentinel();
      const url = "wss://fake-sentinel/attach";
      let plans = 0;
      const c = new FabricConnection(
        {
          securityProfile: "overlay",
          plan: async () => {
            plans++;
            return {
              url,
              systemId: "node1",
              instanceId: "inst_node1",
              logicals: [],
              signer: NodeSigner.generate(),
              attachTicket: `ticket-${plans}`,
              ticketExpiresAt: Date.now() + ticketLifeMs,
            };
          },
          peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
          log: quietLogger(),
          controlTimeoutMs: 1000,
          reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
        },
        recorder(),
        sentinel.dialer("node1"),
      );
      live.push(c);
      await c.start();
      sentinel.kill(url);
      await expect.poll(() => sentinel.dialed.filter((d) => d.refused).length).toBeGreaterThanOrEqual(3);
      sentinel.revive(url);
      expect(await c.whenAttached(2000)).toBe(true);
      const refused = sentinel.dialed.filter((d) => d.refused).length;
      const tickets = sentinel
        .sent("node1", "NodeAttach")
        .map((e) => (e.frame as { attachTicket?: string }).attachTicket);
      // the first admission's ticket, then one admission for the whole outage (or one per dial)
      expect(plans).toBe(reused ? 2 : refused + 2);
      expect(tickets).toEqual(["ticket-1", `ticket-${plans}`]);
      await c.close();
    }
  });

  it("delivers a peer's envelope once its signature checks out (key fetched from the sentinel)", async () => {
    const sentinel = new FakeSentinel();
    const events = recorder();
    const receiver = connection(sentinel, "receiver", events);
    const sender = connection(sentinel, "sender");
    await receiver.start();
    await sender.start();
    sender.send({
      to: receiver.replyAddress,
      replyTo: sender.replyAddress,
      corrId: "c1",
      frame: { type: "Data", codec: "json", payload: { hello: "world" } },
    });
    await expect.poll(() => events.envelopes.length).toBe(1);
    expect(events.envelopes[0]?.frame).toMatchObject({ payload: { hello: "world" } });
    expect(sentinel.sent("receiver", "KeyRequest").length).toBe(1);
  });

  it("takes the answer to its key request from the sentinel only: a node's KeyAnnounce naming it is ignored", async () => {
    const sentinel = new FakeSentinel();
    const events = recorder();
    const receiver = connection(sentinel, "receiver", events);
    const sender = connection(sentinel, "sender");
    const mallory = NodeSigner.generate();
    await receiver.start();
    await sender.start();
    // hold the receiver's KeyRequest at the sentinel, to answer it after a forgery
    const handle = sentinel.fromNode.bind(sentinel);
    const held: { link: Parameters<typeof handle>[0]; text: string }[] = [];
    sentinel.fromNode = (link, text) => {
      if (link.name === "receiver" && text.includes('"KeyRequest"')) held.push({ link, text });
      else handle(link, text);
    };
    sender.send({
      to: receiver.replyAddress,
      replyTo: sender.replyAddress,
      corrId: "c1",
      frame: { type: "Data", codec: "json", payload: { hello: "world" } },
    });
    await expect.poll(() => held.length).toBe(1);
    const request = JSON.parse(held[0]!.text) as Envelope;
    // another node answers the request first, with its own key under the sender's sid
    sentinel.node("receiver").link.deliver(
      JSON.stringify({
        v: 1,
        id: "forged-announce",
        sid: sidFromPath("/mallory"),
        ts: Date.now(),
        corrId: request.id,
        frame: { type: "KeyAnnounce", keys: [mallory.jwk], sid: sentinel.node("sender").sid },
      }),
    );
    // the sentinel's own answer still counts, and the sender's envelope is delivered
    handle(held[0]!.link, held[0]!.text);
    await expect.poll(() => events.envelopes.length).toBe(1);
    expect(events.envelopes[0]?.frame).toMatchObject({ payload: { hello: "world" } });
  });

  it("refuses a tampered envelope with signature_invalid instead of delivering it", async () => {
    const sentinel = new FakeSentinel();
    const events = recorder();
    const receiver = connection(sentinel, "receiver", events);
    const senderEvents = recorder();
    const sender = connection(sentinel, "sender", senderEvents);
    await receiver.start();
    await sender.start();
    sender.send({
      to: receiver.replyAddress,
      replyTo: sender.replyAddress,
      corrId: "c2",
      frame: { type: "Data", codec: "json", payload: { n: 1 } },
    });
    await expect.poll(() => events.envelopes.length).toBe(1);
    // a copy with another payload under the same signature, as a forger on the path would send it
    const original = sentinel.sent("sender", "Data")[0]!;
    const tampered = { ...original, frame: { type: "Data", codec: "json", payload: { n: 2 } } };
    sentinel.node("receiver").link.deliver(JSON.stringify(tampered));
    await expect.poll(() => senderEvents.envelopes.length).toBeGreaterThan(0);
    const nack = senderEvents.envelopes.find((e) => e.frame.type === "DeliveryAck");
    expect(nack?.frame).toMatchObject({ ok: false, code: "signature_invalid" });
    // the genuine one arrived, the tampered one did not
    expect(events.envelopes.map((e) => (e.frame as { payload?: unknown }).payload)).toEqual([{ n: 1 }]);
  });
});
