import { afterEach, describe, expect, it, vi } from "vitest";
import {
  LinkTokenOffers,
  MAX_WAITING_PER_PEER,
  MAX_WAITING_UNKNOWN,
} from "../src/cluster/link-token-offers.js";

const offerOf = (src: string, token: string) => Buffer.from(JSON.stringify({ src, token }));
const tokenOf = (c: string) => c.repeat(43);

afterEach(() => {
  vi.useRealTimers();
});

describe("LinkTokenOffers", () => {
  it("takes a token heard before the upgrade at once, once, and only for the sentinel it came from", async () => {
    const offers = new LinkTokenOffers("B");
    offers.offer(offerOf("A", tokenOf("t")));
    expect(await offers.claim("A", tokenOf("t"), true)).toBe("taken");
    expect(offers.waitingCount).toBe(0);
    vi.useFakeTimers();
    offers.offer(offerOf("A", tokenOf("u")));
    const other = offers.claim("C", tokenOf("u"), true);
    const again = offers.claim("A", tokenOf("t"), true);
    await vi.advanceTimersByTimeAsync(2_100);
    expect(await other).toBe("unknown_token");
    expect(await again).toBe("unknown_token");
  });

  it("an upgrade that beat its token over NATS waits for it", async () => {
    const offers = new LinkTokenOffers("B");
    const claim = offers.claim("A", tokenOf("t"), true);
    expect(offers.waitingCount).toBe(1);
    offers.offer(offerOf("A", tokenOf("t")));
    expect(await claim).toBe("taken");
    expect(offers.waitingCount).toBe(0);
  });

  it("guessers under a registered sentinel's name cannot keep its own upgrade out", async () => {
    vi.useFakeTimers();
    const offers = new LinkTokenOffers("B");
    const guesses = Array.from({ length: 100 }, (_, i) =>
      offers.claim("A", tokenOf(String.fromCharCode(97 + (i % 20))), true),
    );
    expect(offers.waitingCount).toBe(MAX_WAITING_PER_PEER);
    // the peer's own upgrade comes last and takes the oldest guess's place
    const own = offers.claim("A", tokenOf("Z"), true);
    expect(offers.waitingCount).toBe(MAX_WAITING_PER_PEER);
    offers.offer(offerOf("A", tokenOf("Z")));
    expect(await own).toBe("taken");
    await vi.advanceTimersByTimeAsync(2_100);
    const verdicts = await Promise.all(guesses);
    expect(verdicts.filter((v) => v === "pushed_out")).toHaveLength(97);
    expect(verdicts.slice(97)).toEqual(["unknown_token", "unknown_token", "unknown_token"]);
    expect(offers.waitingCount).toBe(0);
  });

  it("names the registry does not know share a bounded number of places", async () => {
    vi.useFakeTimers();
    const offers = new LinkTokenOffers("B");
    const waiting = Array.from({ length: MAX_WAITING_UNKNOWN }, (_, i) =>
      offers.claim(`x${i}`, tokenOf("g"), false),
    );
    expect(await offers.claim("y", tokenOf("g"), false)).toBe("too_many_waiting");
    // a registered peer still gets a place
    const peer = offers.claim("A", tokenOf("p"), true);
    offers.offer(offerOf("A", tokenOf("p")));
    expect(await peer).toBe("taken");
    await vi.advanceTimersByTimeAsync(2_100);
    expect(new Set(await Promise.all(waiting))).toEqual(new Set(["unknown_token"]));
    expect(offers.waitingCount).toBe(0);
  });

  it("drops malformed offers and its own, and wakes every waiter on close", async () => {
    const offers = new LinkTokenOffers("B");
    for (const bad of [
      Buffer.from("{"),
      Buffer.from("null"),
      offerOf("B", tokenOf("t")),
      offerOf("A", "short"),
      offerOf("bad id!", tokenOf("t")),
      Buffer.alloc(600, 0x20),
    ])
      offers.offer(bad);
    const waiting = offers.claim("A", tokenOf("t"), true);
    offers.close();
    expect(await waiting).toBe("unknown_token");
    expect(await offers.claim("A", tokenOf("t"), true)).toBe("unknown_token");
  });
});
