import { sameSecret } from "../same-secret.js";

/** what a sentinel id may be, in an offer and in a link upgrade's header */
export const SENTINEL_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** a token not used within this is forgotten */
const TOKEN_TTL_MS = 10_000;
/** a link upgrade may arrive before its token (NATS and the TCP dial race): wait this long */
const TOKEN_WAIT_MS = 2_000;
/** tokens held per peer and in all: a flood of offers cannot grow memory */
const MAX_TOKENS_PER_PEER = 4;
const MAX_TOKENS = 1024;
/**
 * Upgrades waiting for their token per sentinel of the registry. A peer dials one link at a
 * time, so a fifth waiting under its name is a guesser's: the oldest waiter gives its place to
 * the newest, and a peer's own upgrade, which comes last, keeps its place.
 */
export const MAX_WAITING_PER_PEER = 4;
/** upgrades waiting under names the registry does not know (yet), all together */
export const MAX_WAITING_UNKNOWN = 64;

interface Offer {
  token: string;
  expiresAt: number;
}

interface Waiter {
  wake: () => void;
  pushedOut: boolean;
}

/** what became of an upgrade's wait for its token */
export type TokenVerdict = "taken" | "unknown_token" | "too_many_waiting" | "pushed_out";

/**
 * The link tokens a sentinel heard on NATS, and the upgrades waiting for theirs.
 *
 * A dialling peer publishes its token just before it dials, so the token is almost always here
 * by the time the TLS handshake and the upgrade request are done: that upgrade waits for
 * nothing and holds no place. Only the race (or a guess) waits, up to TOKEN_WAIT_MS, and the
 * places are shared so that guessers cannot keep a real peer out: MAX_WAITING_PER_PEER under
 * each registered sentinel's name (newest in, oldest out) and MAX_WAITING_UNKNOWN for the rest.
 */
export class LinkTokenOffers {
  private readonly offers = new Map<string, Offer[]>();
  private offerCount = 0;
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingUnknown = 0;
  private closed = false;

  constructor(private readonly selfId: string) {}

  /** a token message heard on this sentinel's link subject; anything malformed is dropped */
  offer(data: Uint8Array): void {
    let raw: unknown;
    try {
      if (data.length > 512) return;
      raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString("utf8"));
    } catch {
      return;
    }
    if (typeof raw !== "object" || raw === null) return;
    const { src, token } = raw as Record<string, unknown>;
    if (typeof src !== "string" || !SENTINEL_ID.test(src) || src === this.selfId) return;
    if (typeof token !== "string" || token.length !== 43) return;
    const now = Date.now();
    const list = (this.offers.get(src) ?? []).filter((o) => o.expiresAt > now);
    this.offerCount -= (this.offers.get(src)?.length ?? 0) - list.length;
    if (list.length >= MAX_TOKENS_PER_PEER || this.offerCount >= MAX_TOKENS) {
      this.offers.set(src, list);
      return;
    }
    list.push({ token, expiresAt: now + TOKEN_TTL_MS });
    this.offerCount++;
    this.offers.set(src, list);
    for (const w of [...(this.waiting.get(src) ?? [])]) w.wake();
  }

  /**
   * Takes `token` as offered by `peer` (single use), waiting for it up to TOKEN_WAIT_MS if it
   * is not here yet. `registered`: the registry knows `peer` as a live sentinel.
   */
  async claim(peer: string, token: string, registered: boolean): Promise<TokenVerdict> {
    if (this.take(peer, token)) return "taken";
    if (this.closed) return "unknown_token";
    let list = this.waiting.get(peer);
    if (registered) {
      // out of the list at once, so that a burst of guesses cannot grow it while the pushed-out
      // waiters wake
      const oldest = list !== undefined && list.length >= MAX_WAITING_PER_PEER ? list.shift() : undefined;
      if (oldest !== undefined) {
        oldest.pushedOut = true;
        oldest.wake();
      }
    } else if (this.waitingUnknown >= MAX_WAITING_UNKNOWN) {
      return "too_many_waiting";
    }
    if (list === undefined) {
      list = [];
      this.waiting.set(peer, list);
    }
    const waiters = list;
    if (!registered) this.waitingUnknown++;
    const deadline = Date.now() + TOKEN_WAIT_MS;
    const me: Waiter = { wake: () => {}, pushedOut: false };
    waiters.push(me);
    try {
      for (let i = 0; i < 16; i++) {
        const left = deadline - Date.now();
        if (left <= 0 || this.closed) return "unknown_token";
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          me.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (me.pushedOut) return "pushed_out";
        if (this.take(peer, token)) return "taken";
      }
      return "unknown_token";
    } finally {
      if (!registered) this.waitingUnknown--;
      const at = waiters.indexOf(me);
      if (at >= 0) waiters.splice(at, 1);
      if (waiters.length === 0 && this.waiting.get(peer) === waiters) this.waiting.delete(peer);
    }
  }

  /** upgrades waiting for a token now */
  get waitingCount(): number {
    let n = 0;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const list of this.waiting.values()) for (const w of [...list]) w.wake();
  }

  private take(peer: string, token: string): boolean {
    const list = this.offers.get(peer);
    if (list === undefined) return false;
    const now = Date.now();
    const i = list.findIndex((o) => o.expiresAt > now && sameSecret(o.token, token));
    if (i < 0) return false;
    list.splice(i, 1);
    this.offerCount--;
    if (list.length === 0) this.offers.delete(peer);
    return true;
  }
}
