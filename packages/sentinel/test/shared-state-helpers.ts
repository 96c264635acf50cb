import { Writable } from "node:stream";
import { createLogger, type Logger } from "@fame/logger";
import { AttachAuthority, parsePoolPolicies, Sentinel, SharedState } from "@fame/sentinel";
import {
  type FabricState,
  MemoryHub,
  openMemoryFabricState,
  type StateStatus,
  StateUnavailableError,
} from "@fame/state";
import { Clock, quiet } from "./affinity-helpers.js";

/**
 * A memory FabricState that a test can cut off, as a sentinel loses NATS: its status turns
 * unavailable (listeners told once) and every write rejects with StateUnavailableError, while
 * the caches keep answering reads.
 */
export class PartitionableState {
  readonly fabric: FabricState;
  private down = false;
  private readonly listeners = new Set<(s: StateStatus) => void>();
  private status: StateStatus = { state: "ok", since: Date.now() };

  constructor(inner: FabricState) {
    const self = this;
    const guard = <T extends object>(store: T, writes: (keyof T)[]): T =>
      new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (typeof v !== "function") return v;
          if (writes.includes(prop as keyof T))
            return (...args: unknown[]) =>
              self.down ? Promise.reject(new StateUnavailableError()) : v.apply(target, args);
          return v.bind(target);
        },
      });
    this.fabric = {
      profile: "nats",
      clusterId: inner.clusterId,
      registry: guard(inner.registry, ["advertise", "withdraw"]),
      directory: guard(inner.directory, ["announce", "update", "withdraw"]),
      pins: guard(inner.pins, ["put", "delete"]),
      tickets: guard(inner.tickets, ["spend"]),
      elections: guard(inner.elections, ["claim", "renew", "release"]),
      sessions: guard(inner.sessions, ["place", "put", "delete"]),
      bus: inner.bus,
      get status() {
        return self.status;
      },
      onStatus(cb) {
        self.listeners.add(cb);
        return () => self.listeners.delete(cb);
      },
      close: () => inner.close(),
    };
  }

  partition(reason = "connection lost"): void {
    this.set(true, { state: "unavailable", since: Date.now(), reason });
  }

  heal(): void {
    this.set(false, { state: "ok", since: Date.now() });
  }

  private set(down: boolean, status: StateStatus): void {
    this.down = down;
    this.status = status;
    for (const cb of this.listeners) cb(status);
  }
}

/** one sentinel's view of a cluster state shared through `hub` (every sentinel of a test the same hub) */
export function clusterState(hub: MemoryHub): PartitionableState {
  return new PartitionableState(openMemoryFabricState("fabric", quiet, { hub }));
}

export { MemoryHub };

/** A logger that records what was logged at warn and info (messages only: nothing secret is logged). */
export function recordingLogger(): { log: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = createLogger({
    name: "sentinel-test",
    level: "info",
    destination: new Writable({
      write(chunk, _e, cb) {
        for (const line of String(chunk).split("\n")) {
          if (line.trim() === "") continue;
          const o = JSON.parse(line) as { level: number; msg: string };
          lines.push({ level: o.level, msg: o.msg });
        }
        cb();
      },
    }),
  });
  return { log, lines };
}

/** A sentinel of a cluster (open profile, none admission) over `state`. */
export function clusterSentinel(
  sentinelId: string,
  state: PartitionableState,
  pools: unknown[],
  log: Logger = quiet,
): { s: Sentinel; shared: SharedState; clock: Clock } {
  const clock = new Clock();
  const shared = new SharedState(state.fabric, log);
  const attach = new AttachAuthority({
    sentinelId,
    securityProfile: "open",
    admissionProfile: "none",
    shared,
  });
  const s = new Sentinel(
    {
      sentinelId,
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 60_000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 64,
      idleTimeoutMs: 3_600_000,
      pools: parsePoolPolicies(pools),
    },
    { log, attach, now: clock.now, shared },
  );
  return { s, shared, clock };
}

/** Polls `cond` every 10 ms up to `ms` (writes to the shared state settle asynchronously). */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
