import type { Logger } from "@fame/logger";
import type { NodeDirectory, StateBus, Unsubscribe } from "@fame/state";

/** a request is one small JSON object: anything bigger did not come from a peer sentinel */
const MAX_REQUEST_BYTES = 256;
const SYSTEM_ID = /^[A-Za-z0-9_]{1,64}$/;

/** what the operator asked of a node attached to another sentinel */
export type DrainAction = "drain" | "resume";

export function drainSubject(clusterId: string, sentinelId: string): string {
  return `fame.drain.${clusterId}.${sentinelId}`;
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

  constructor(private readonly deps: ClusterDrainDeps) {}

  /** starts taking drain requests from the other sentinels */
  listen(): void {
    const d = this.deps;
    this.unsubscribe = d.bus.subscribe(drainSubject(d.clusterId, d.sentinelId), (data) =>
      this.onRequest(data),
    );
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

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private onRequest(data: Uint8Array): void {
    const d = this.deps;
    let systemId: unknown;
    let action: unknown;
    try {
      if (data.length > MAX_REQUEST_BYTES) throw new Error("too large");
      const body = JSON.parse(Buffer.from(data).toString("utf8")) as { systemId?: unknown; action?: unknown };
      systemId = body.systemId;
      action = body.action ?? "drain";
    } catch {
      systemId = undefined;
    }
    if (
      typeof systemId !== "string" ||
      !SYSTEM_ID.test(systemId) ||
      (action !== "drain" && action !== "resume")
    ) {
      d.log.warn({ bytes: data.length }, "malformed drain request from the cluster ignored");
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
