/** `fame status`, `fame pins`, `fame drain`: the sentinel's operator endpoints. */

import type { Command } from "commander";
import { parseDuration } from "../client.js";
import { CliError, EXIT, usageError } from "../exit-codes.js";
import { oneLine, table } from "../format.js";
import type { CliIo } from "../io.js";
import { checkoutFor, type GlobalOptions } from "../node-env.js";
import {
  adminTokenHint,
  describeRefusal,
  drainPath,
  resumePath,
  type SentinelTarget,
  STATUS_PATH,
  sentinelRequest,
  sentinelTarget,
} from "../sentinel-http.js";

interface StatusNode {
  systemId: string;
  sid?: string;
  path?: string;
  name?: string;
  logicals?: string[];
  draining?: boolean;
  inflight?: number;
}
interface PoolMember {
  id: string;
  healthy?: boolean;
  draining?: boolean;
  inflight?: number;
  requests?: number;
}
/** the status page's `distribution` entry of a pool (the parts shown; the rest stays in --json) */
interface PoolDistribution {
  address: string;
  policy: {
    mode?: string;
    affinity?: string;
    affinityTtlSec?: number;
    exclusive?: boolean;
    healthCheck?: { operation?: string } | null;
  } | null;
  active?: string | null;
  sessions?: number;
  counters?: Record<string, unknown>;
  replicas?: {
    id: string;
    sessions?: number;
    active?: boolean;
    health?: { healthy?: boolean; passed?: number; failed?: number; lastError?: string | null } | null;
    /** ejected for leaving calls unanswered, until then (ms since the epoch) */
    ejectedUntil?: number;
  }[];
}

export interface SentinelStatus {
  sentinelId?: string;
  securityProfile?: string;
  loadBalancing?: string;
  sessions?: number;
  inflight?: number;
  nodes?: StatusNode[];
  /** in a cluster: names of pool members attached to other sentinels */
  remoteNames?: Record<string, unknown>;
  pools?: {
    /** addresses bound in all; the list holds the configured and busiest when it is cut short */
    addresses?: number;
    truncated?: boolean;
    pools?: { address: string; mode?: string; members?: PoolMember[]; memberCount?: number }[];
  };
  stickiness?: ({ size?: number; perReplica?: Record<string, number> } & Record<string, unknown>) | null;
  /**
   * per pool: its policy, sessions, counters and each replica's role and health checks; the
   * sentinel's JSON, read as PoolDistribution entries once checked to be a list
   */
  distribution?: unknown;
  counters?: Record<string, unknown>;
}

interface SentinelFlags {
  json?: boolean;
  url?: string;
  timeout?: string;
}

async function target(io: CliIo, global: GlobalOptions, flags: SentinelFlags): Promise<SentinelTarget> {
  const timeoutMs = flags.timeout === undefined ? 5000 : parseDuration(flags.timeout);
  return sentinelTarget(
    { ...(flags.url === undefined ? {} : { url: flags.url }), timeoutMs },
    io.env,
    await checkoutFor(io, global),
  );
}

export async function fetchStatus(t: SentinelTarget): Promise<SentinelStatus> {
  const answer = await sentinelRequest(t, "GET", STATUS_PATH);
  if (answer.status !== 200 || typeof answer.body !== "object" || answer.body === null) {
    const hint = answer.status === 401 ? adminTokenHint(t) : "";
    throw new CliError(`${t.origin}${STATUS_PATH}: ${describeRefusal(answer)}${hint}`, EXIT.failure);
  }
  return answer.body as SentinelStatus;
}

/** A node's label: its replica name when the sentinel knows one, else what kind of node it is. */
function labeller(status: SentinelStatus): (id: string) => string {
  const label = new Map<string, string>();
  // replicas attached to other sentinels of a cluster, by the names their records carry
  for (const [id, name] of Object.entries(status.remoteNames ?? {}))
    if (typeof name === "string" && name !== "") label.set(id, name);
  for (const n of status.nodes ?? []) {
    const name =
      typeof n.name === "string" && n.name !== "" ? n.name : n.logicals?.length ? "(agent)" : "(client)";
    label.set(n.systemId, name);
    if (n.sid) label.set(n.sid, name);
  }
  return (id) => label.get(id) ?? id;
}

const count = (v: unknown): string => (typeof v === "number" ? String(v) : "-");
const pairs = (obj: Record<string, unknown> | undefined | null): string =>
  Object.entries(obj ?? {})
    .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");

export function renderPins(status: SentinelStatus): string {
  const s = status.stickiness;
  if (!s) return "Pins: stickiness is off";
  const nameOf = labeller(status);
  const { perReplica, size, ...counters } = s;
  const per = Object.entries(perReplica ?? {});
  const lines = [
    `Pins (AFT stickiness): ${count(size)} active (a pin lives while its channel's client is attached)`,
  ];
  lines.push(
    per.length === 0
      ? "  per replica: none"
      : table(
          ["  REPLICA", "ID", "PINS"],
          per.map(([id, n]) => [`  ${nameOf(id)}`, id, String(n)]),
        ),
  );
  if (Object.keys(counters).length > 0) lines.push(`  ${pairs(counters)}`);
  return lines.join("\n");
}

function distributionByAddress(value: unknown): Map<string, PoolDistribution> {
  const out = new Map<string, PoolDistribution>();
  if (!Array.isArray(value)) return out;
  for (const d of value as PoolDistribution[]) if (typeof d?.address === "string") out.set(d.address, d);
  return out;
}

/** what a pool is, as its policy says (the registry says only pooled or exclusive) */
function modeOf(d: PoolDistribution | undefined, registryMode: string | undefined): string {
  const policy = d?.policy;
  if (policy?.mode === "single-active") return "single-active";
  if (policy?.affinity === "session") return policy.exclusive === true ? "session, exclusive" : "session";
  return registryMode ?? "";
}

/** the pool's policy at work: sessions and sticky counters, the active replica, failing health checks */
function policyLine(d: PoolDistribution | undefined, nameOf: (id: string) => string): string | undefined {
  const policy = d?.policy;
  if (d === undefined || policy === null || policy === undefined) return undefined;
  const c = d.counters ?? {};
  // a name is the node's own choice (another node may take the same one): the id goes with it
  const who = (id: string): string => (nameOf(id) === id ? id : `${nameOf(id)} ${id}`);
  const parts: string[] = [];
  if (policy.mode === "single-active") {
    parts.push(`active ${d.active ? who(d.active) : "none"}`, `promotions ${count(c["promotions"])}`);
    parts.push(`refused not active ${count(c["notActive"])}`);
  }
  if (policy.affinity === "session") {
    parts.push(`${count(d.sessions)} sessions (ttl ${count(policy.affinityTtlSec)} s)`);
    parts.push(
      `sticky hits ${count(c["stickyHits"])}, misses ${count(c["stickyMisses"])}, moved ${count(c["stickyViolations"])}`,
    );
    if (policy.exclusive === true) parts.push(`no free replica ${count(c["noFreeReplica"])}`);
  }
  const ejected = (d.replicas ?? []).filter((r) => r.ejectedUntil !== undefined);
  if (ejected.length > 0 || (typeof c["ejections"] === "number" && c["ejections"] > 0)) {
    const now = ejected
      .map((r) => `${who(r.id)} until ${new Date(r.ejectedUntil ?? 0).toISOString().slice(11, 19)} UTC`)
      .join(", ");
    parts.push(`ejections ${count(c["ejections"])}${now === "" ? "" : ` (ejected now: ${now})`}`);
  }
  const op = policy.healthCheck?.operation;
  if (op !== undefined) {
    const failing = (d.replicas ?? []).filter((r) => r.health?.healthy === false);
    parts.push(
      failing.length === 0
        ? `health check ${op}: passing`
        : `health check ${op} failing on ${failing.map((r) => `${who(r.id)} (${r.health?.lastError ?? "failed"})`).join(", ")}`,
    );
  }
  return parts.length === 0 ? undefined : parts.join("; ");
}

/** "node" for one, "nodes" for any other count (an unknown one too) */
function plural(n: unknown, word: string): string {
  return n === 1 ? word : `${word}s`;
}

export function renderStatus(status: SentinelStatus, origin: string): string {
  const nameOf = labeller(status);
  const out: string[] = [
    `Sentinel ${status.sentinelId ?? "?"} at ${origin}: ${status.securityProfile ?? "?"}, ` +
      `load balancing ${status.loadBalancing ?? "?"}, ${count(status.sessions)} ${plural(status.sessions, "node")} attached, ` +
      `${count(status.inflight)} ${plural(status.inflight, "request")} in flight`,
    "",
    "Pools",
  ];
  const pools = status.pools?.pools ?? [];
  const dist = distributionByAddress(status.distribution);
  if (pools.length === 0) out.push("  (none: no agent is attached)");
  else {
    const rows: string[][] = [];
    for (const p of pools) {
      const d = dist.get(p.address);
      const mode = modeOf(d, p.mode);
      const byReplica = new Map((d?.replicas ?? []).map((r) => [r.id, r]));
      for (const m of p.members ?? []) {
        const r = byReplica.get(m.id);
        const health = m.draining
          ? "draining"
          : m.healthy
            ? "healthy"
            : r?.ejectedUntil !== undefined
              ? "ejected"
              : "unhealthy";
        const role = r?.active === true ? ", active" : r?.active === false ? ", standby" : "";
        rows.push([
          `  ${p.address}`,
          mode,
          nameOf(m.id),
          m.id,
          `${health}${role}`,
          count(m.inflight),
          count(m.requests),
          d?.policy?.affinity === "session" ? count(r?.sessions) : "-",
        ]);
      }
      if ((p.members ?? []).length === 0) rows.push([`  ${p.address}`, mode, "-", "-", "-", "-", "-", "-"]);
    }
    out.push(
      table(["  ADDRESS", "MODE", "REPLICA", "ID", "HEALTH", "IN FLIGHT", "REQUESTS", "SESSIONS"], rows),
    );
    for (const p of pools) {
      const line = policyLine(dist.get(p.address), nameOf);
      if (line !== undefined) out.push(oneLine(`  ${p.address}: ${line}`));
      if (typeof p.memberCount === "number")
        out.push(oneLine(`  ${p.address}: ${p.members?.length ?? 0} of ${p.memberCount} members listed`));
    }
    if (status.pools?.truncated === true) {
      out.push(
        `  … ${pools.length} of ${count(status.pools.addresses)} pools listed: the configured ones, then the busiest`,
      );
    }
  }
  out.push("", "Nodes");
  const nodes = status.nodes ?? [];
  if (nodes.length === 0) out.push("  (none attached)");
  else {
    out.push(
      table(
        ["  NAME", "SYSTEM ID", "PATH", "LOGICALS", "IN FLIGHT", "STATE"],
        nodes.map((n) => [
          `  ${nameOf(n.systemId)}`,
          n.systemId,
          String(n.path ?? ""),
          n.logicals?.length ? n.logicals.join(",") : "-",
          count(n.inflight),
          n.draining ? "draining" : "attached",
        ]),
      ),
    );
  }
  out.push("", renderPins(status), `Counters: ${pairs(status.counters)}`);
  return out.join("\n");
}

/**
 * A system id's shape: @fame/protocol's SYSTEM_ID_PATTERN, repeated because the CLI starts
 * without loading the fabric's packages (startup.int.test.ts); a unit test keeps the two equal.
 */
export const SYSTEM_ID_SHAPE = /^[A-Za-z0-9_]{1,64}$/;

/**
 * The system id to drain: `node` as given, or the node whose name, sid or path it is (ids are
 * what the sentinel takes; names are what `fame status` shows). Undefined: it names no node
 * and cannot be an id either (a mistyped name such as `text-9`: names take hyphens, ids do not).
 */
export function resolveNode(status: SentinelStatus | undefined, node: string): string | undefined {
  const nodes = status?.nodes ?? [];
  // a name is chosen by the node itself: one shaped like another node's id must not pass as it
  // (an insider naming itself after a replica would have the operator drain the replica)
  const matches = nodes.filter(
    (n) => n.systemId === node || n.name === node || n.sid === node || n.path === node,
  );
  if (matches.length > 1) {
    throw usageError(
      `"${node}" names ${matches.length} nodes: drain one by system id (${matches.map((n) => n.systemId).join(", ")})`,
    );
  }
  return matches[0]?.systemId ?? (SYSTEM_ID_SHAPE.test(node) ? node : undefined);
}

/** the sentinel a 202 drain answer names (the node's own, in a cluster) */
function viaSentinel(body: unknown): string {
  const id =
    typeof body === "object" && body !== null ? (body as { sentinelId?: unknown }).sentinelId : undefined;
  return typeof id === "string" && id.length > 0 && id.length <= 64 ? id : "(unnamed)";
}

async function runDrain(
  io: CliIo,
  global: GlobalOptions,
  node: string,
  flags: SentinelFlags,
  action: "drain" | "resume",
): Promise<void> {
  const t = await target(io, global, flags);
  // names are a convenience: without the status page the argument is taken as a system id
  let status: SentinelStatus | undefined;
  let statusRefused: unknown;
  try {
    status = await fetchStatus(t);
  } catch (err) {
    if (err instanceof CliError && err.exitCode === EXIT.unreachable) throw err;
    statusRefused = err;
  }
  const systemId = resolveNode(status, node);
  // a name needs the status page: its refusal (a wrong admin token) is the answer, not "no such node"
  if (systemId === undefined && statusRefused !== undefined) throw statusRefused;
  const path = action === "drain" ? drainPath : resumePath;
  const answer = systemId === undefined ? undefined : await sentinelRequest(t, "POST", path(systemId));
  if (answer === undefined || answer.status === 404) {
    throw new CliError(`no attached node "${node}" at ${t.origin} (fame status lists them)`, EXIT.failure);
  }
  // 202: in a cluster the node is attached to another sentinel, which was asked to do it
  if (answer.status !== 200 && answer.status !== 202) {
    throw new CliError(
      `${action} ${systemId}: ${describeRefusal(answer)}${answer.status === 401 ? adminTokenHint(t) : ""}`,
      answer.status === 400 ? EXIT.usage : EXIT.failure,
    );
  }
  const via =
    answer.status === 202 ? `asked its sentinel ${viaSentinel(answer.body)}, which ` : "the sentinel ";
  const body = answer.body;
  const unchanged =
    answer.status === 200 &&
    typeof body === "object" &&
    body !== null &&
    (body as { unchanged?: unknown }).unchanged === true;
  const what =
    action === "drain"
      ? `${unchanged ? `${systemId} was draining already` : `draining ${systemId}`}: ${via}sends it no new sessions or channels`
      : unchanged
        ? `${systemId} was not draining: nothing to resume, the sentinel gives it new sessions and channels`
        : `resumed ${systemId}: ${via}gives it new sessions and channels again`;
  io.out(flags.json ? `${JSON.stringify(answer.body, null, 2)}\n` : `${what}\n`);
}

const URL_HELP =
  "the sentinel, https://host:port (default: from FAME_SENTINEL_URL, else the checkout's dev fabric)";
const TIMEOUT_HELP = "how long to wait for the sentinel (default 5s)";

export function registerSentinelCommands(program: Command, io: CliIo, global: () => GlobalOptions): void {
  program
    .command("status")
    .description("the sentinel's view: pools, replicas, nodes, pins, counters (GET /fame/v1/status)")
    .option("--json", "print the sentinel's status document as JSON")
    .option("--url <url>", URL_HELP)
    .option("--timeout <duration>", TIMEOUT_HELP)
    .action(async (flags: SentinelFlags) => {
      const t = await target(io, global(), flags);
      const status = await fetchStatus(t);
      io.out(`${flags.json ? JSON.stringify(status, null, 2) : renderStatus(status, t.origin)}\n`);
    });

  program
    .command("pins")
    .description("AFT stickiness: active pins per replica and the pin counters")
    .option("--json", "print the stickiness section (and distribution) as JSON")
    .option("--url <url>", URL_HELP)
    .option("--timeout <duration>", TIMEOUT_HELP)
    .action(async (flags: SentinelFlags) => {
      const t = await target(io, global(), flags);
      const status = await fetchStatus(t);
      io.out(
        `${
          flags.json
            ? JSON.stringify(
                { stickiness: status.stickiness ?? null, distribution: status.distribution ?? null },
                null,
                2,
              )
            : renderPins(status)
        }\n`,
      );
    });

  program
    .command("drain")
    .description("drain a node: the sentinel sends it no new sessions or channels (needs the admin token)")
    .argument("<node>", "system id, sid, path or replica name (fame status lists them)")
    .option("--json", "print the sentinel's answer as JSON")
    .option("--url <url>", URL_HELP)
    .option("--timeout <duration>", TIMEOUT_HELP)
    .action((node: string, flags: SentinelFlags) => runDrain(io, global(), node, flags, "drain"));

  program
    .command("resume")
    .description(
      "take a node out of an operator's drain: it gets new sessions and channels again (needs the admin token)",
    )
    .argument("<node>", "system id, sid, path or replica name (fame status lists them)")
    .option("--json", "print the sentinel's answer as JSON")
    .option("--url <url>", URL_HELP)
    .option("--timeout <duration>", TIMEOUT_HELP)
    .action((node: string, flags: SentinelFlags) => runDrain(io, global(), node, flags, "resume"));
}
