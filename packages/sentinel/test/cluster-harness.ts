import type { Envelope } from "@fame/protocol";
import {
  AFTLoadBalancerStickinessManager,
  AttachAuthority,
  parsePoolPolicies,
  Sentinel,
  type SentinelLinks,
  SessionDirectory,
  SharedState,
} from "@fame/sentinel";
import { type FabricState, MemoryHub, type NodeRecord, openMemoryFabricState } from "@fame/state";
import { FakeLink, quietLogger } from "./fake-link.js";
import { attachNode, type TestNode } from "./test-node.js";

/**
 * Several Sentinel instances of one cluster in one process: each has its own FabricState on a
 * shared memory hub (as separate processes share NATS) and an in-process link to the others,
 * which delivers on a later turn, as a network would.
 */

export const CLUSTER = "fabric";

/** Links between sentinels of one process; a message to a sentinel nobody listens as is lost. */
export class InProcessLinks {
  private readonly listeners = new Map<string, (data: Uint8Array) => void>();
  /** every message published, for tests that inspect or replay them */
  readonly published: { to: string; data: Uint8Array }[] = [];

  for(sentinelId: string): SentinelLinks {
    return {
      listen: (onMessage) => {
        this.listeners.set(sentinelId, onMessage);
      },
      publish: (to, data) => this.publish(to, data),
      close: () => {
        this.listeners.delete(sentinelId);
      },
    };
  }

  publish(to: string, data: Uint8Array): void {
    this.published.push({ to, data: Uint8Array.from(data) });
    setImmediate(() => this.listeners.get(to)?.(data));
  }
}

/** A fake connection whose frames can be awaited as they arrive. */
export class WaitLink extends FakeLink {
  private waiters: { pred: (e: Envelope) => boolean; resolve: (e: Envelope) => void }[] = [];

  override send(data: string | Buffer): void {
    super.send(data);
    const env = this.sent.at(-1)!;
    const ready = this.waiters.filter((w) => w.pred(env));
    this.waiters = this.waiters.filter((w) => !w.pred(env));
    for (const w of ready) w.resolve(env);
  }

  /** the first frame (already sent, or still to come) matching `pred`; rejects after 5 s */
  next(pred: (e: Envelope) => boolean, what = "frame"): Promise<Envelope> {
    const seen = this.sent.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} arrived`)), 5000);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** the n-th frame of `type` (1-based), already here or to come */
  nth(type: string, n = 1): Promise<Envelope> {
    let count = 0;
    return this.next((e) => e.frame.type === type && ++count === n, `${type} #${n}`);
  }

  /** a refusal with `code` */
  nack(code: string): Promise<Envelope> {
    return this.next(
      (e) => e.frame.type === "DeliveryAck" && !e.frame.ok && e.frame.code === code,
      `nack ${code}`,
    );
  }
}

export interface Member {
  id: string;
  sentinel: Sentinel;
  state: FabricState;
  stickiness: AFTLoadBalancerStickinessManager;
}

export interface Cluster {
  members: Member[];
  links: InProcessLinks;
  close(): Promise<void>;
}

/** `ids.length` sentinels of one cluster, overlay profile, strict stickiness */
export function startCluster(ids: string[], pools: unknown[] = []): Cluster {
  const hub = new MemoryHub();
  const links = new InProcessLinks();
  const members = ids.map((id) => {
    const state = openMemoryFabricState(CLUSTER, quietLogger, { hub });
    const sessions = new SessionDirectory();
    const stickiness = new AFTLoadBalancerStickinessManager(
      { securityLevel: "strict" },
      { directory: sessions },
    );
    // admission "none" places nodes under the authority's id: the cluster's, as in cluster mode
    const attach = new AttachAuthority({
      sentinelId: CLUSTER,
      securityProfile: "overlay",
      admissionProfile: "none",
    });
    const sentinel = new Sentinel(
      {
        sentinelId: id,
        securityProfile: "overlay",
        loadBalancing: "round_robin",
        heartbeatMs: 60_000,
        heartbeatMissLimit: 3,
        attachTimeoutMs: 1000,
        maxFrameBytes: 64 * 1024,
        maxInflightPerConnection: 64,
        idleTimeoutMs: 3_600_000,
        pools: parsePoolPolicies(pools),
      },
      {
        log: quietLogger,
        attach,
        stickiness,
        sessions,
        cluster: { state, links: links.for(id) },
        // session placements and leases, as a cluster sentinel shares them
        shared: new SharedState(state, quietLogger),
      },
    );
    return { id, sentinel, state, stickiness };
  });
  return {
    members,
    links,
    async close() {
      for (const m of members) m.sentinel.leaveCluster();
      for (const m of members) await m.state.close();
    },
  };
}

/** a node attached to `m` */
export function attach(
  m: Member,
  systemId: string,
  logicals: string[] = [],
  capabilities: string[] = [],
  keySeed?: Uint8Array,
  name?: string,
): Promise<TestNode<WaitLink>> {
  return attachNode(m.sentinel, systemId, logicals, "overlay", new WaitLink(), capabilities, keySeed, name);
}

/** resolves once `state`'s node directory shows a record for `systemId` satisfying `pred` */
export function record(
  state: FabricState,
  systemId: string,
  pred: (r: NodeRecord) => boolean = () => true,
): Promise<NodeRecord> {
  const now = state.directory.get(systemId);
  if (now !== undefined && pred(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching record of ${systemId}`));
    }, 5000);
    const off = state.directory.onChange((id, r) => {
      if (id !== systemId || r === undefined || !pred(r)) return;
      clearTimeout(timer);
      off();
      resolve(r);
    });
  });
}
