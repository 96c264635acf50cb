import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "@fame/logger";
import type { SentinelRecord, StateBus } from "@fame/state";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  CLUSTER_LINK_PATH,
  DirectSentinelLinks,
  LINK_TOKEN_SUBJECT_PREFIX,
  linkUrlOf,
} from "../src/cluster/direct-links.js";

const log = createLogger({ name: "direct-links-test", level: "silent" });

/** core pub/sub between the sentinels of one test, as NATS subjects would carry it */
class TestBus {
  private readonly subs = new Map<string, Set<(data: Uint8Array) => void>>();
  readonly published: string[] = [];
  bus(): StateBus {
    return {
      publish: (subject, data) => {
        this.published.push(subject);
        for (const cb of this.subs.get(subject) ?? []) queueMicrotask(() => cb(Uint8Array.from(data)));
      },
      subscribe: (subject, cb) => {
        let set = this.subs.get(subject);
        if (set === undefined) {
          set = new Set();
          this.subs.set(subject, set);
        }
        set.add(cb);
        return () => set.delete(cb);
      },
    };
  }
}

class TestRegistry {
  private readonly records = new Map<string, SentinelRecord>();
  private readonly listeners = new Set<(id: string, r: SentinelRecord | undefined) => void>();
  set(id: string, publicUrl: string | undefined): void {
    const r =
      publicUrl === undefined
        ? undefined
        : { sentinelId: id, publicUrl, nodes: 0, draining: false, seenAt: Date.now() };
    if (r === undefined) this.records.delete(id);
    else this.records.set(id, r);
    for (const l of this.listeners) l(id, r);
  }
  get = (id: string) => this.records.get(id);
  onChange = (cb: (id: string, r: SentinelRecord | undefined) => void) => {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  };
}

interface Peer {
  id: string;
  links: DirectSentinelLinks;
  server: Server;
  url: string;
  received: { data: string; from: string | undefined }[];
  arrivals: (() => void)[];
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function peer(id: string, bus: TestBus, registry: TestRegistry): Promise<Peer> {
  const links = new DirectSentinelLinks({
    sentinelId: id,
    bus: bus.bus(),
    registry,
    trustBundlePem: undefined,
    maxMessageBytes: 64 * 1024,
    log,
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] === CLUSTER_LINK_PATH) links.acceptUpgrade(req, socket, head);
    else socket.destroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/fame/v1/attach/ws/downstream`;
  const p: Peer = { id, links, server, url, received: [], arrivals: [] };
  links.listen((data, from) => {
    p.received.push({ data: Buffer.from(data).toString(), from });
    for (const wake of p.arrivals.splice(0)) wake();
  });
  cleanup.push(async () => {
    links.close();
    server.closeAllConnections();
    server.close();
  });
  return p;
}

/** resolves once `p` has received `n` messages (bounded) */
async function received(p: Peer, n: number): Promise<void> {
  for (let i = 0; i < 200 && p.received.length < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${p.id} got ${p.received.length} of ${n}`)), 3000);
      p.arrivals.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** bounded wait for a condition that an event on a socket makes true */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("DirectSentinelLinks", () => {
  it("sends over NATS until the link is open, then over the link, which names its peer", async () => {
    const bus = new TestBus();
    const registry = new TestRegistry();
    const a = await peer("A", bus, registry);
    const b = await peer("B", bus, registry);
    // nothing registered yet: the message goes over NATS and carries no link identity
    a.links.publish("B", Buffer.from("first"));
    await received(b, 1);
    expect(b.received[0]).toEqual({ data: "first", from: undefined });
    registry.set("A", a.url);
    registry.set("B", b.url);
    await until(() => (a.links.describe()["linked"] as string[]).includes("B"), "A's link to B");
    a.links.publish("B", Buffer.from("second"));
    await received(b, 2);
    expect(b.received[1]).toEqual({ data: "second", from: "A" });
    expect(a.links.counters).toMatchObject({ busOut: 1, directOut: 1, opened: 1 });
    expect(b.links.counters.directIn).toBe(1);
    // the token travelled on B's link subject, never to anyone else
    expect(bus.published).toContain(`${LINK_TOKEN_SUBJECT_PREFIX}B`);
  });

  it("refuses a link upgrade without a token heard on NATS, or with another sentinel's token", async () => {
    const bus = new TestBus();
    const registry = new TestRegistry();
    const b = await peer("B", bus, registry);
    const linkUrl = linkUrlOf(b.url)!;
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(linkUrl, { headers });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => {});
      });
    // an admitted node (or anyone) guessing: refused after the token wait
    expect(await status({ "x-fame-sentinel": "A", authorization: `Bearer ${"x".repeat(43)}` })).toBe(401);
    expect(await status({})).toBe(401);
    // a token offered for A is not good for C, and is good once only
    const token = "t".repeat(43);
    bus.bus().publish(`${LINK_TOKEN_SUBJECT_PREFIX}B`, Buffer.from(JSON.stringify({ src: "A", token })));
    expect(await status({ "x-fame-sentinel": "C", authorization: `Bearer ${token}` })).toBe(401);
    expect(await status({ "x-fame-sentinel": "A", authorization: `Bearer ${token}` })).toBe(101);
    expect(await status({ "x-fame-sentinel": "A", authorization: `Bearer ${token}` })).toBe(401);
    expect(b.links.counters.refused).toBe(4);
  }, 20_000);

  it("falls back to NATS when the peer's link goes, and links again when it is back", async () => {
    const bus = new TestBus();
    const registry = new TestRegistry();
    const a = await peer("A", bus, registry);
    let b = await peer("B", bus, registry);
    registry.set("B", b.url);
    await until(() => (a.links.describe()["linked"] as string[]).includes("B"), "the link");
    // B dies: its sockets go
    b.links.close();
    b.server.closeAllConnections();
    await until(() => !(a.links.describe()["linked"] as string[]).includes("B"), "the link to close");
    // a restarted B (same id, new port)
    b = await peer("B", bus, registry);
    a.links.publish("B", Buffer.from("while down"));
    await received(b, 1);
    expect(b.received[0]?.from).toBeUndefined();
    registry.set("B", b.url);
    await until(() => (a.links.describe()["linked"] as string[]).includes("B"), "the link again");
    a.links.publish("B", Buffer.from("linked again"));
    await received(b, 2);
    expect(b.received[1]).toEqual({ data: "linked again", from: "A" });
  });

  it("links to a peer while guessers hold every waiting place, under its name and others", async () => {
    const bus = new TestBus();
    const registry = new TestRegistry();
    const a = await peer("A", bus, registry);
    const b = await peer("B", bus, registry);
    registry.set("A", a.url);
    const linkUrl = linkUrlOf(b.url)!;
    const refusedAt: Promise<number>[] = [];
    const guess = (name: string) => {
      const ws = new WebSocket(linkUrl, {
        headers: { "x-fame-sentinel": name, authorization: `Bearer ${"g".repeat(43)}` },
      });
      cleanup.push(() => ws.terminate());
      refusedAt.push(
        new Promise<number>((resolve) => {
          ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
          ws.on("open", () => resolve(101));
          ws.on("error", () => resolve(-1));
        }),
      );
    };
    // 70 names nobody registered and 10 guesses under A's own name, all waiting for a token
    for (let i = 0; i < 70; i++) guess(`Q${i}`);
    for (let i = 0; i < 10; i++) guess("A");
    await until(() => b.links.counters.refused >= 6 + 6, "the places to fill");
    // A dials B; its token reaches B over NATS first, so its upgrade needs no place
    registry.set("B", b.url);
    await until(() => (a.links.describe()["linked"] as string[]).includes("B"), "A's link to B");
    a.links.publish("B", Buffer.from("past the guessers"));
    await received(b, 1);
    expect(b.received[0]).toEqual({ data: "past the guessers", from: "A" });
    expect(new Set(await Promise.all(refusedAt))).toEqual(new Set([401]));
    // the guesses were refused, and A's link never was
    expect(b.links.counters.refused).toBe(80);
    expect(a.links.counters.opened).toBe(1);
  }, 20_000);

  it("closes an accepted link whose peer stops answering pings (gone without a FIN)", async () => {
    const bus = new TestBus();
    const registry = new TestRegistry();
    const b = await peer("B", bus, registry);
    const token = "s".repeat(43);
    bus.bus().publish(`${LINK_TOKEN_SUBJECT_PREFIX}B`, Buffer.from(JSON.stringify({ src: "A", token })));
    // a peer that takes the link and then goes silent: it never answers a ping
    const ws = new WebSocket(linkUrlOf(b.url)!, {
      headers: { "x-fame-sentinel": "A", authorization: `Bearer ${token}` },
      autoPong: false,
    });
    await once(ws, "open");
    cleanup.push(() => ws.terminate());
    expect(b.links.describe()["inbound"]).toBe(1);
    // one ping unanswered by the next (2 s apart): closed within about two ping periods
    await once(ws, "close");
    expect(b.links.describe()["inbound"]).toBe(0);
  }, 20_000);

  it("linkUrlOf: same origin as the attach URL, ws(s) only", () => {
    expect(linkUrlOf("wss://10.0.0.5:8001/fame/v1/attach/ws/downstream")).toBe(
      `wss://10.0.0.5:8001${CLUSTER_LINK_PATH}`,
    );
    expect(linkUrlOf("https://x")).toBeUndefined();
    expect(linkUrlOf("not a url")).toBeUndefined();
  });
});
