/**
 * What the sentinel's dashboard stream carries, as the page reads it. The server's types
 * (dashboard-feed.ts, dashboard-reading.ts) are checked against these in the sentinel's unit
 * tests, so the two sides cannot drift apart silently.
 */

export interface WireReplica {
  id: string;
  name?: string | undefined;
  path?: string | undefined;
  healthy: boolean;
  draining: boolean;
  /** taken out of its pool for a while for leaving calls unanswered */
  ejected: boolean;
  active?: boolean | undefined;
  sessions: number;
  pins: number;
  inflight: number;
  callsPerSec: number;
}

export interface WirePool {
  address: string;
  binding: string;
  mode?: string | undefined;
  affinity?: string | undefined;
  sessions: number;
  replicas: WireReplica[];
  members: number;
  truncated: boolean;
}

export interface WireState {
  at: number;
  sentinelId: string;
  securityProfile: string;
  connections: number;
  attachedNodes: number;
  inflight: number;
  pools: WirePool[];
  truncated: boolean;
  poolCount: number;
}

export interface WireSample {
  t: number;
  calls: Record<string, number>;
  refusals: Record<string, number>;
  failovers: { replicaUnavailable: number; sessionsMoved: number; channelsMoved: number };
  sessions: number;
  pins: number;
}

export interface WireEvent {
  t: number;
  kind: "joined" | "left" | "draining";
  pool: string;
  replica: string;
  name?: string | undefined;
}

export interface WireHello {
  intervalMs: number;
  history: WireSample[];
  events: WireEvent[];
  state?: WireState | undefined;
}

export interface WireTick {
  sample: WireSample;
  events: WireEvent[];
  state?: WireState | undefined;
}
