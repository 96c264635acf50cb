import type { Logger } from "@fame/logger";
import type { NodeDirectory, StateBus, Unsubscribe } from "@fame/state";
import { parseLogicalAddress } from "./routing/address.js";

/** a request is one small JSON object: anything bigger did not come from a peer sentinel */
const MAX_REQUEST_BYTES = 1024;
const SYSTEM_ID = /^[A-Za-z0-9_]{1,64}$/;

/** what the operator asked of a node attached to another sentinel */
export type DrainAction = "drain" | "resume";

const SENTINEL_ID = /^[A-Za-z0-9_]{1,64}$/;

export function drainSubject(clusterId: string, sentinelId: string): string {
  return `fame.drain.${clusterId}.${sentinelId}`;
}

/** every sentinel of the cluster: the operator drains remembered (drainMemoSubject) */
export function drainMemoSubject(clusterId: string): string {
  return `fame.drainmemo.${clusterId}`;
}

export interface ClusterDrainDeps {
  bus: StateBus;
  directory: Pick<NodeDirectory, "get">;
  clusterId: string;
  sentinelId: string;
  /** puts a node attached here into draining (as the operator endpoint does); false when unknown */
  drainLocal: (systemId: string) => boolean;
  /** takes a node attached here out of an operator's drain (as the resume endpoint does) */
  resumeLocal: (systemId: string) => string;
  /** another sentinel saw a node attached here leave its calls to `address` unanswered */
  stalledLocal?: (systemId: string, address: string, by: string) => void;
  /** another sentinel remembers (true) or forgot (false) an operator's drain of a node */
  memoLocal?: (systemId: string, drained: boolean) => void;
  /** another sentinel ejected a node from `address` for `forMs` more, at `strikes` */
  ejectedLocal?: (systemId: string, address: string, forMs: number, strikes: number) => void;
  log: Logger;
}

/**
 * The operator drains a node through any sentinel of the cluster: a node attached elsewhere is
 * looked up in the node directory and its own sentinel is asked (over the sentinels' private
 * NATS network) to drain it. That sentinel drains it as if asked directly, and the node's
 * directory record then carries `draining`, so every sentinel stops giving it new work.
 */
export class ClusterDrain {
  private unsubscribe: Unsubscribe | undefined;
  private unsubscribeMemo: Unsubscribe | undefined;

  constructor(private readonly deps: ClusterDrainDeps) {}

  /** starts taking drain requests (and drain memos) from the other sentinels */
  listen(): void {
    const d = this.deps;
    this.unsubscribe = d.bus.subscribe(drainSubject(d.clusterId, d.sentinelId), (data) =>
      this.onRequest(data),
    );
    this.unsubscribeMemo = d.bus.subscribe(drainMemoSubject(d.clusterId), (data) => this.onMemo(data));
  }

  /**
   * Tells every sentinel that this one remembers (true) or forgot (false) an operator's drain
   * of `systemId`: a drained node that re-attaches to another sentinel is draining there too.
   * Core NATS, not the store: a sentinel started later does not hear of earlier drains (as a
   * restarted sentinel forgets its own).
   */
  announce(systemId: string, drained: boolean): void {
    const d = this.deps;
    const body = { systemId, drained, by: d.sentinelId };
    d.bus.publish(drainMemoSubject(d.clusterId), Buffer.from(JSON.stringify(body)));
  }

  /** Tells every sentinel that this one ejected `systemId` from `address` (outlier ejection). */
  announceEjection(systemId: string, address: string, forMs: number, strikes: number): void {
    const d = this.deps;
    const ejected = { address, forMs: Math.round(forMs), strikes: Math.min(strikes, MAX_STRIKES) };
    const body = { systemId, ejected, by: d.sentinelId };
    d.bus.publish(drainMemoSubject(d.clusterId), Buffer.from(JSON.stringify(body)));
  }

  /**
   * Asks the sentinel holding `systemId` to drain it; that sentinel's id, or undefined when the
   * cluster knows no such node elsewhere.
   */
  request(systemId: string, action: DrainAction = "drain"): string | undefined {
    const d = this.deps;
    const record = d.directory.get(systemId);
    if (record === undefined || record.sentinelId === d.sentinelId) return undefined;
    const body = action === "drain" ? { systemId } : { systemId, action };
    d.bus.publish(drainSubject(d.clusterId, record.sentinelId), Buffer.from(JSON.stringify(body)));
    return record.sentinelId;
  }

  /**
   * Tells the sentinel holding `systemId` that the calls this sentinel routed to it through
   * `address` go unanswered (outlier ejection); false when the cluster knows no such node elsewhere.
   */
  reportStall(systemId: string, address: string): boolean {
    const d = this.deps;
    const record = d.directory.get(systemId);
    if (record === undefined || record.sentinelId === d.sentinelId) return false;
    const body = { systemId, action: "stalled", address, by: d.sentinelId };
    d.bus.publish(drainSubject(d.clusterId, record.sentinelId), Buffer.from(JSON.stringify(body)));
    return true;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeMemo?.();
    this.unsubscribeMemo = undefined;
  }

  private onMemo(data: Uint8Array): void {
    const d = this.deps;
    const body = busObject(data);
    const systemId = body?.["systemId"];
    const drained = body?.["drained"];
    const ejected = ejectionOf(body?.["ejected"]);
    const by = body?.["by"];
    if (
      typeof systemId !== "string" ||
      !SYSTEM_ID.test(systemId) ||
      (typeof drained !== "boolean" && ejected === undefined) ||
      typeof by !== "string" ||
      !SENTINEL_ID.test(by)
    ) {
      d.log.warn({ bytes: data.length }, "malformed drain memo from the cluster ignored");
      return;
    }
    if (by === d.sentinelId) return; // its own, echoed by NATS
    if (typeof drained === "boolean") d.memoLocal?.(systemId, drained);
    else d.ejectedLocal?.(systemId, ejected!.address, ejected!.forMs, ejected!.strikes);
  }

  private onRequest(data: Uint8Array): void {
    const d = this.deps;
    const body = busObject(data);
    const systemId = body?.["systemId"];
    const action = body?.["action"] ?? "drain";
    const address = body?.["address"];
    const by = body?.["by"];
    if (
      typeof systemId !== "string" ||
      !SYSTEM_ID.test(systemId) ||
      (action !== "drain" && action !== "resume" && action !== "stalled")
    ) {
      d.log.warn({ bytes: data.length }, "malformed drain request from the cluster ignored");
      return;
    }
    if (action === "stalled") {
      if (
        typeof address !== "string" ||
        parseLogicalAddress(address) === undefined ||
        typeof by !== "string" ||
        !SENTINEL_ID.test(by)
      ) {
        d.log.warn({ bytes: data.length }, "malformed stall report from the cluster ignored");
        return;
      }
      d.stalledLocal?.(systemId, address, by);
      return;
    }
    if (action === "resume") {
      const outcome = d.resumeLocal(systemId);
      d.log.info({ systemId, outcome }, "resume requested through another sentinel");
      return;
    }
    const drained = d.drainLocal(systemId);
    d.log.info({ systemId, drained }, "drain requested through another sentinel");
  }
}

/** a message from the bus as a JSON object; undefined when too large, not JSON or not an object */
function busObject(data: Uint8Array): Record<string, unknown> | undefined {
  if (data.length > MAX_REQUEST_BYTES) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** strikes an ejection memo carries at most (beyond, the length is 10× anyway) */
const MAX_STRIKES = 1000;

/** the longest an ejection can run: 10 × an ejection_sec of at most a day */
const MAX_EJECTION_MS = 10 * 86_400_000;

/** an ejection memo's `ejected` member, checked; undefined when malformed */
function ejectionOf(value: unknown): { address: string; forMs: number; strikes: number } | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { address, forMs, strikes } = value as Record<string, unknown>;
  if (typeof address !== "string" || parseLogicalAddress(address) === undefined) return undefined;
  if (typeof forMs !== "number" || !Number.isSafeInteger(forMs) || forMs < 0 || forMs > MAX_EJECTION_MS)
    return undefined;
  if (typeof strikes !== "number" || !Number.isSafeInteger(strikes) || strikes < 1 || strikes > MAX_STRIKES)
    return undefined;
  return { address, forMs, strikes };
}
