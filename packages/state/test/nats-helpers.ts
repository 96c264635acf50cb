import type { StorageSettings } from "@fame/config";
import { type FabricState, type NodeRecord, type StateStatus, StateUnavailableError } from "../src/index.js";

export function settingsFor(url: string, replicas = 1, clusterId = "fabric"): StorageSettings {
  return { profile: "nats", clusterId, servers: url.split(","), replicas, auth: undefined };
}

/** resolves with the first value a watcher reports, bounded */
export function untilChange<T>(subscribe: (cb: (v: T) => void) => () => void, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let off: () => void = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no change within ${timeoutMs} ms`));
    }, timeoutMs);
    off = subscribe((v) => {
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

export function untilStatus(
  state: FabricState,
  want: StateStatus["state"],
  timeoutMs = 10_000,
): Promise<StateStatus> {
  if (state.status.state === want) return Promise.resolve(state.status);
  return untilChange<StateStatus>((cb) => state.onStatus((s) => s.state === want && cb(s)), timeoutMs);
}

export function nodeRecord(systemId: string, sentinelId: string): NodeRecord {
  return {
    systemId,
    instanceId: `${systemId}-i1`,
    sid: `sid-${systemId}`,
    path: `/fabric/${systemId}`,
    sentinelId,
    principal: "client-a",
    logicals: ["math@fame.fabric"],
    addresses: [`math@/fabric/${systemId}`],
    keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "k1", use: "sig", x5c: ["MIIBcert"] }],
    name: "replica",
    draining: false,
    attachedAt: Date.now(),
  };
}

/**
 * Resolves when `state` has gone unavailable and then ok again. Subscribe before causing the
 * outage: the transition to unavailable may come before the caller looks.
 */
export function untilRecovered(state: FabricState, timeoutMs = 20_000): Promise<void> {
  let wasDown = false;
  return untilChange<void>(
    (cb) =>
      state.onStatus((s) => {
        if (s.state === "unavailable") wasDown = true;
        else if (wasDown) cb();
      }),
    timeoutMs,
  );
}

/**
 * Runs `fn` until it stops rejecting with StateUnavailableError, as a sentinel's caller retries
 * a `state_unavailable` refusal; bounded by `timeoutMs`. Resolves with the result and how long
 * the state was unavailable.
 */
export async function retryUnavailable<T>(
  fn: () => Promise<T>,
  timeoutMs = 15_000,
): Promise<{ value: T; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    try {
      return { value: await fn(), waitedMs: Date.now() - start };
    } catch (err) {
      if (!(err instanceof StateUnavailableError) || Date.now() - start > timeoutMs) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
