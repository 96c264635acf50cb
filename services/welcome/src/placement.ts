import { randomBytes } from "node:crypto";
import { stableSystemId } from "./node-id.js";

export interface PlacementRequest {
  clientId: string;
  instanceId: string;
  /** a caller-proposed systemId, present only when policy lets callers choose */
  systemId?: string;
}

export interface Placement {
  systemId: string;
  assignedPath: string;
  /** where the node attaches (a cluster): its sentinel and every live one, preferred first */
  transport?: { url: string; urls: string[] };
}

/** Decides where in the fabric tree a node attaches: one sentinel, or a cluster's (ClusterPlacement). */
export interface PlacementStrategy {
  place(req: PlacementRequest): Placement;
}

/**
 * Every node goes under one sentinel: `/<sentinelId>/<systemId>`. The systemId is derived from
 * (principal, instanceId) as in a cluster, so a node re-admitted after its sentinel restarted
 * gets the same path and sid: it keeps its certificate, its peers their cached key, and its
 * channels their replica (docs/reliability.md).
 */
export class StaticSentinelPlacement implements PlacementStrategy {
  private readonly nodeIdKey: Uint8Array;

  /** without a key, a random one: identities then hold for as long as this process runs */
  constructor(
    private readonly sentinelId: string,
    nodeIdKey?: Uint8Array,
  ) {
    this.nodeIdKey = nodeIdKey ?? new Uint8Array(randomBytes(32));
  }

  place(req: PlacementRequest): Placement {
    const systemId = req.systemId ?? stableSystemId(this.nodeIdKey, req.clientId, req.instanceId);
    return { systemId, assignedPath: `/${this.sentinelId}/${systemId}` };
  }
}
