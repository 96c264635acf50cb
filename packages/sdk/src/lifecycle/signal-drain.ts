/**
 * Graceful shutdown of a serving node: on SIGTERM or SIGINT it tells the sentinel it is
 * draining (no new channels), keeps serving the channels pinned to it until their clients go
 * quiet (or the bound passes), detaches and exits 0. `agent.serve()` arms this for the fabric
 * its endpoint belongs to, unless told `drainOnSignal: false`.
 */
import type { Logger } from "@fame/logger";
import { type DrainOutcome, waitUntilDrained } from "./drain.js";

export interface DrainSettings {
  /** FAME_DRAIN_TIMEOUT_MS: the drain never lasts longer than this */
  timeoutMs: number;
  /** FAME_DRAIN_QUIET_MS: a node without calls or channel frames for this long is done */
  quietMs: number;
}

export const DEFAULT_DRAIN_SETTINGS: DrainSettings = Object.freeze({ timeoutMs: 10_000, quietMs: 1000 });

/** Time allowed after the drain bound to detach, before the process is forced out. */
const CLOSE_GRACE_MS = 5000;

/** A connected node, seen through what draining it needs. */
export interface Drainable {
  readonly log: Logger;
  readonly drainSettings: DrainSettings;
  /** announce draining to the sentinel */
  drain(): void;
  /** served operations running or streaming */
  activeCalls(): number;
  /** ms epoch of the last channel frame in or out */
  lastActivityAt(): number;
  close(): Promise<void>;
}

/** Drains `node` (see the module comment) and closes it; resolves with how the wait ended. */
export async function drainAndClose(
  node: Drainable,
  fields: Record<string, string> = {},
): Promise<DrainOutcome> {
  const { timeoutMs, quietMs } = node.drainSettings;
  node.drain();
  node.log.info({ ...fields, drainTimeoutMs: timeoutMs, drainQuietMs: quietMs }, "draining");
  const outcome = await waitUntilDrained(
    { activeCalls: () => node.activeCalls(), lastActivityAt: () => node.lastActivityAt() },
    { quietMs, timeoutMs },
  );
  node.log.info({ outcome, activeCalls: node.activeCalls() }, "drained");
  await node.close();
  return outcome;
}

/** The nodes a signal drains: those that serve and did not opt out. */
const armed = new Set<Drainable>();
let stopping = false;
const onSigterm = (): void => onSignal("SIGTERM");
const onSigint = (): void => onSignal("SIGINT");

/** Drain `node` when the process gets SIGTERM or SIGINT, then exit. Idempotent. */
export function drainOnSignals(node: Drainable): void {
  if (armed.has(node)) return;
  armed.add(node);
  if (armed.size === 1) {
    process.on("SIGTERM", onSigterm);
    process.on("SIGINT", onSigint);
  }
}

/**
 * Forget `node` (it closed); with none left, the process's own signal handling is back:
 * a client that served for a while and closed does not keep ignoring Ctrl-C.
 */
export function disarmSignals(node: Drainable): void {
  if (!armed.delete(node) || armed.size > 0 || stopping) return;
  process.off("SIGTERM", onSigterm);
  process.off("SIGINT", onSigint);
}

function onSignal(signal: string): void {
  // A repeated signal changes nothing: a terminal's Ctrl-C often reaches both a package
  // runner and its child, and the drain is already bounded.
  if (stopping) return;
  stopping = true;
  const nodes = [...armed];
  const bound = Math.max(0, ...nodes.map((n) => n.drainSettings.timeoutMs)) + CLOSE_GRACE_MS;
  const force = setTimeout(() => {
    process.stderr.write(`${signal}: drain and close did not finish within ${bound} ms, forcing exit\n`);
    process.exit(1);
  }, bound);
  force.unref();
  Promise.all(nodes.map((n) => drainAndClose(n, { signal }))).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `${signal}: closing failed: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
