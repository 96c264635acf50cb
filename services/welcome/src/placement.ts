import { randomInt } from "node:crypto";

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

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SYSTEM_ID_LENGTH = 16;

/** 16 chars of [A-Za-z0-9] (≈95 bits): no `-` or `_`, so it reads as one path segment anywhere. */
export function newSystemId(): string {
  let out = "";
  // randomInt is unbiased (rejection sampling inside), unlike byte % 62.
  for (let i = 0; i < SYSTEM_ID_LENGTH; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Every node goes under one sentinel: `/<sentinelId>/<systemId>`. */
export class StaticSentinelPlacement implements PlacementStrategy {
  constructor(private readonly sentinelId: string) {}

  place(req: PlacementRequest): Placement {
    const systemId = req.systemId ?? newSystemId();
    return { systemId, assignedPath: `/${this.sentinelId}/${systemId}` };
  }
}
