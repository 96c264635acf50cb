/**
 * App-level health checks: the sentinel calls a JSON-RPC operation on every member of a
 * health-checked pool, as plaintext Data from its own identity sent down the member's own
 * connection, with replies addressed to `health@/<sentinel id>`. Any result passes; an error,
 * a malformed answer or silence past the timeout fails. Consecutive failures mark the member
 * unhealthy (no new work); consecutive passes bring it back.
 *
 * Heartbeats (the sentinel's sweep) remain the liveness check: this one catches replicas that
 * are connected but cannot serve.
 */
import { untrustedText } from "@fame/logger";
import { batchOf, type Envelope, type JsonValue, makeEnvelope, newId } from "@fame/protocol";
import type { HealthCheckPolicy } from "../pool-policy.js";

export interface HealthCheckerDeps {
  now: () => number;
  sentinelId: string;
  /** send an envelope to an attached node; false when it is not attached */
  send(nodeId: string, env: Envelope): boolean;
  /** a member crossed a threshold */
  onChange(address: string, nodeId: string, healthy: boolean, detail: string): void;
  newProbeId?: () => string;
}

export interface ProbeMember {
  id: string;
}

/** What the status page shows per member. */
export interface MemberHealthView {
  healthy: boolean;
  passed: number;
  failed: number;
  lastError: string | undefined;
}

interface MemberHealth {
  address: string;
  nodeId: string;
  policy: HealthCheckPolicy;
  healthy: boolean;
  /** consecutive outcomes, for the thresholds */
  passes: number;
  failures: number;
  passed: number;
  failed: number;
  lastError: string | undefined;
  nextDue: number;
  pending: { id: string; deadline: number } | undefined;
}

export class HealthChecker {
  private readonly byAddress = new Map<string, Map<string, MemberHealth>>();
  private readonly pending = new Map<string, MemberHealth>();
  private readonly newProbeId: () => string;

  constructor(private readonly deps: HealthCheckerDeps) {
    this.newProbeId = deps.newProbeId ?? newId;
  }

  /** the address probes are answered to */
  get replyAddress(): string {
    return `health@/${this.deps.sentinelId}`;
  }

  /** Time out overdue probes and send due ones for the members of one pool. */
  tick(address: string, policy: HealthCheckPolicy, members: Iterable<ProbeMember>): void {
    const now = this.deps.now();
    let states = this.byAddress.get(address);
    if (states === undefined) {
      states = new Map();
      this.byAddress.set(address, states);
    }
    const seen = new Set<string>();
    for (const member of members) {
      seen.add(member.id);
      let state = states.get(member.id);
      if (state === undefined) {
        state = {
          address,
          nodeId: member.id,
          policy,
          healthy: true,
          passes: 0,
          failures: 0,
          passed: 0,
          failed: 0,
          lastError: undefined,
          nextDue: now,
          pending: undefined,
        };
        states.set(member.id, state);
      }
      state.policy = policy;
      if (state.pending !== undefined && now >= state.pending.deadline) {
        this.pending.delete(state.pending.id);
        state.pending = undefined;
        this.fail(state, `no answer in ${policy.timeoutMs} ms`);
      }
      if (state.pending === undefined && now >= state.nextDue) this.probe(state, now);
    }
    for (const [nodeId, state] of states) {
      if (!seen.has(nodeId)) this.drop(states, state);
    }
    if (states.size === 0) this.byAddress.delete(address);
  }

  /**
   * A Data envelope from node `fromNodeId` addressed to the probe reply address. False when
   * it answers no probe of ours (late, forged, or from another node): the caller refuses it.
   * A node answering several probes in one turn sends a clear batch: each entry answers its own
   * probe, and the batch is refused when any of them answers none.
   */
  onReply(fromNodeId: string, env: Envelope): boolean {
    const frame = env.frame;
    const payload = frame.type === "Data" && frame.codec === "json" ? frame.payload : undefined;
    const batch = batchOf(env);
    if (batch === undefined) return env.corrId !== undefined && this.answer(fromNodeId, env.corrId, payload);
    // the decoder checked that a clear batch's payload is an array of the list's length
    const payloads = Array.isArray(payload) ? payload : [];
    let all = true;
    for (let i = 0; i < batch.length; i++) {
      if (!this.answer(fromNodeId, batch[i]!.corrId, payloads[i])) all = false;
    }
    return all;
  }

  private answer(fromNodeId: string, probeId: string, payload: JsonValue | undefined): boolean {
    const state = this.pending.get(probeId);
    if (state === undefined || state.nodeId !== fromNodeId || state.pending?.id !== probeId) return false;
    this.pending.delete(probeId);
    state.pending = undefined;
    if (
      payload === null ||
      typeof payload !== "object" ||
      Array.isArray(payload) ||
      payload["id"] !== probeId
    ) {
      this.fail(state, "malformed answer");
    } else if ("result" in payload) {
      this.pass(state);
    } else {
      const error = payload["error"];
      const message =
        error !== null &&
        typeof error === "object" &&
        !Array.isArray(error) &&
        typeof error["message"] === "string"
          ? untrustedText(error["message"], 200)
          : "error answer";
      this.fail(state, message);
    }
    return true;
  }

  /** A node left: forget its state everywhere. */
  forgetNode(nodeId: string): void {
    for (const [address, states] of this.byAddress) {
      const state = states.get(nodeId);
      if (state !== undefined) this.drop(states, state);
      if (states.size === 0) this.byAddress.delete(address);
    }
  }

  view(address: string, nodeId: string): MemberHealthView | undefined {
    const s = this.byAddress.get(address)?.get(nodeId);
    return s && { healthy: s.healthy, passed: s.passed, failed: s.failed, lastError: s.lastError };
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private probe(state: MemberHealth, now: number): void {
    const id = this.newProbeId();
    const env = makeEnvelope({
      sid: this.deps.sentinelId,
      // Delivered straight to the member's connection; `to` names the pool's agent so a node
      // serving several agents dispatches the probe to the right one.
      to: state.address,
      replyTo: this.replyAddress,
      corrId: id,
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id, method: state.policy.operation } },
    });
    state.nextDue = now + state.policy.intervalSec * 1000;
    if (!this.deps.send(state.nodeId, env)) return;
    state.pending = { id, deadline: now + state.policy.timeoutMs };
    this.pending.set(id, state);
  }

  private pass(state: MemberHealth): void {
    state.passed++;
    state.passes++;
    state.failures = 0;
    if (!state.healthy && state.passes >= state.policy.healthyThreshold) {
      state.healthy = true;
      this.deps.onChange(state.address, state.nodeId, true, "health check passed");
    }
  }

  private fail(state: MemberHealth, why: string): void {
    state.failed++;
    state.failures++;
    state.passes = 0;
    state.lastError = why;
    if (state.healthy && state.failures >= state.policy.unhealthyThreshold) {
      state.healthy = false;
      this.deps.onChange(state.address, state.nodeId, false, why);
    }
  }

  private drop(states: Map<string, MemberHealth>, state: MemberHealth): void {
    if (state.pending !== undefined) this.pending.delete(state.pending.id);
    states.delete(state.nodeId);
  }
}
