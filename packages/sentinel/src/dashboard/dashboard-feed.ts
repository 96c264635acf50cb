/**
 * The dashboard's server push: once a second, while at least one page watches, it reads the
 * sentinel (`DashboardReading`), turns the running totals into per-second rates, keeps the
 * last few minutes in a ring, and hands every watcher the same SSE frame. With nobody
 * watching there is no timer and no work at all: the frame path never sees the dashboard.
 */
import type { DashboardReading, PoolReading } from "./dashboard-reading.js";

/** One second of the fabric, as the page charts it. */
export interface DashboardSample {
  /** seconds since the epoch (uPlot's x axis) */
  t: number;
  /** calls/s per replica id (a replica serving several pools: their sum) */
  calls: Record<string, number>;
  /** refusals/s per code (codes that moved in this second only) */
  refusals: Record<string, number>;
  /** failover events per second */
  failovers: { replicaUnavailable: number; sessionsMoved: number; channelsMoved: number };
  sessions: number;
  pins: number;
}

/** Replicas joining, leaving and starting to drain: what a failover looks like. */
export interface DashboardEvent {
  t: number;
  kind: "joined" | "left" | "draining";
  pool: string;
  replica: string;
  /** the replica's attach name, when it gave one */
  name?: string | undefined;
}

/** The pools as they stand, with each replica's calls/s of the last second. */
export interface DashboardState extends Omit<DashboardReading, "refusals" | "failovers" | "pools"> {
  pools: (Omit<PoolReading, "replicas"> & {
    replicas: (PoolReading["replicas"][number] & { callsPerSec: number })[];
  })[];
}

export interface DashboardFeedOptions {
  read: () => DashboardReading;
  /** samples kept (one a second); default 300 (five minutes) */
  capacity?: number;
  intervalMs?: number;
  /** events kept; default 100 */
  maxEvents?: number;
}

export type FeedListener = (frame: string) => void;

const round = (v: number) => Math.round(v * 100) / 100;

/** `name: value` for SSE: one `data:` line (JSON has no raw line breaks) */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** the hello frame's size at most, in characters: half of what the page takes in one event */
export const MAX_HELLO_CHARS = 2 * 1024 * 1024;

export class DashboardFeed {
  readonly #read: () => DashboardReading;
  readonly #capacity: number;
  readonly #intervalMs: number;
  readonly #maxEvents: number;
  readonly #samples: DashboardSample[] = [];
  readonly #events: DashboardEvent[] = [];
  readonly #listeners = new Set<FeedListener>();
  #timer: NodeJS.Timeout | undefined;
  #last: DashboardReading | undefined;
  #state: DashboardState | undefined;

  constructor(opts: DashboardFeedOptions) {
    this.#read = opts.read;
    this.#capacity = opts.capacity ?? 300;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#maxEvents = opts.maxEvents ?? 100;
  }

  get watchers(): number {
    return this.#listeners.size;
  }

  /** true while the 1 s sampling timer runs (only with watchers) */
  get sampling(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * A new watcher: it gets the `hello` frame (history, events, current state) at once, then a
   * `tick` frame a second. The first watcher starts the sampling; the returned function stops
   * watching, and the last one out stops the timer.
   */
  subscribe(listener: FeedListener): { hello: string; unsubscribe: () => void } {
    if (this.#timer === undefined) this.#start();
    this.#listeners.add(listener);
    // Bounded well below what the page accepts in one event (MAX_SSE_EVENT_CHARS): with many
    // busy replicas the oldest history goes first, rather than the page getting nothing.
    let history: readonly DashboardSample[] = this.#samples;
    let hello = "";
    for (let tries = 0; tries < 20; tries++) {
      hello = sseFrame("hello", {
        intervalMs: this.#intervalMs,
        history,
        events: this.#events,
        state: this.#state,
      });
      if (hello.length <= MAX_HELLO_CHARS || history.length === 0) break;
      history = history.slice(Math.ceil(history.length / 2));
    }
    return {
      hello,
      unsubscribe: () => {
        this.#listeners.delete(listener);
        if (this.#listeners.size === 0) this.#stop();
      },
    };
  }

  /** one sampling step (the timer's; tests call it directly) */
  tick(): void {
    const now = this.#read();
    const prev = this.#last;
    this.#last = now;
    if (prev === undefined) return;
    const dt = Math.max(0.001, (now.at - prev.at) / 1000);
    const sample = this.#sample(prev, now, dt);
    this.#samples.push(sample);
    if (this.#samples.length > this.#capacity) this.#samples.shift();
    const events = this.#diff(prev, now, sample.t);
    const frame = sseFrame("tick", { sample, events, state: this.#state });
    for (const listener of this.#listeners) listener(frame);
  }

  /** the samples kept, oldest first */
  history(): readonly DashboardSample[] {
    return this.#samples;
  }

  events(): readonly DashboardEvent[] {
    return this.#events;
  }

  /** ends sampling; watchers are the server's to close */
  close(): void {
    this.#listeners.clear();
    this.#stop();
  }

  #start(): void {
    // A fresh baseline: totals read before a pause would turn into one large, false rate.
    this.#last = undefined;
    this.#state = undefined;
    this.tick();
    this.#state = this.#stateOf(this.#last!, undefined, 1);
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sample(prev: DashboardReading, now: DashboardReading, dt: number): DashboardSample {
    this.#state = this.#stateOf(now, prev, dt);
    const calls: Record<string, number> = {};
    let sessions = 0;
    let pins = 0;
    for (const pool of this.#state.pools) {
      sessions += pool.sessions;
      for (const r of pool.replicas) {
        // an idle replica is left out (the page draws it at 0): history grows with the busy ones only
        if (r.callsPerSec > 0) calls[r.id] = (calls[r.id] ?? 0) + r.callsPerSec;
        pins += r.pins;
      }
    }
    const refusals: Record<string, number> = {};
    for (const [code, total] of Object.entries(now.refusals)) {
      const moved = total - (prev.refusals[code] ?? 0);
      if (moved > 0) refusals[code] = round(moved / dt);
    }
    const rate = (a: number, b: number) => round(Math.max(0, a - b) / dt);
    return {
      t: Math.round(now.at / 1000),
      calls,
      refusals,
      failovers: {
        replicaUnavailable: rate(now.failovers.replicaUnavailable, prev.failovers.replicaUnavailable),
        sessionsMoved: rate(now.failovers.sessionsMoved, prev.failovers.sessionsMoved),
        channelsMoved: rate(now.failovers.channelsMoved, prev.failovers.channelsMoved),
      },
      sessions,
      pins,
    };
  }

  #stateOf(now: DashboardReading, prev: DashboardReading | undefined, dt: number): DashboardState {
    const before = new Map<string, number>();
    for (const pool of prev?.pools ?? [])
      for (const r of pool.replicas) before.set(`${pool.address} ${r.id}`, r.calls);
    const { refusals: _r, failovers: _f, ...rest } = now;
    return {
      ...rest,
      pools: now.pools.map((pool) => ({
        ...pool,
        replicas: pool.replicas.map((r) => {
          const was = before.get(`${pool.address} ${r.id}`);
          // a replica new this second has no earlier total: its rate starts next second
          return { ...r, callsPerSec: was === undefined ? 0 : round(Math.max(0, r.calls - was) / dt) };
        }),
      })),
    };
  }

  #diff(prev: DashboardReading, now: DashboardReading, t: number): DashboardEvent[] {
    const out: DashboardEvent[] = [];
    const index = (reading: DashboardReading) => {
      const m = new Map<
        string,
        { pool: string; replica: string; name: string | undefined; draining: boolean }
      >();
      for (const pool of reading.pools)
        for (const r of pool.replicas)
          m.set(`${pool.address} ${r.id}`, {
            pool: pool.address,
            replica: r.id,
            name: r.name,
            draining: r.draining,
          });
      return m;
    };
    const was = index(prev);
    const is = index(now);
    for (const [key, r] of is) {
      const old = was.get(key);
      // every event names the replica as it named itself: the page may not know it yet
      if (old === undefined) out.push({ t, kind: "joined", pool: r.pool, replica: r.replica, name: r.name });
      else if (r.draining && !old.draining)
        out.push({ t, kind: "draining", pool: r.pool, replica: r.replica, name: r.name });
    }
    for (const [key, r] of was)
      if (!is.has(key)) out.push({ t, kind: "left", pool: r.pool, replica: r.replica, name: r.name });
    for (const e of out) {
      this.#events.push(e);
      if (this.#events.length > this.#maxEvents) this.#events.shift();
    }
    return out;
  }
}
