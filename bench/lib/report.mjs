/**
 * Turns raw results into table rows: each fabric row next to the limit row it is
 * judged against, with the issue's targets marked pass/fail (reported, not asserted).
 */
import { hopRows } from "./hop-rows.mjs";
import { idleRows } from "./idle-rows.mjs";
import { payloadRows } from "./payload-rows.mjs";
import { ratioRows } from "./ratio-rows.mjs";
import { median } from "./stats.mjs";
import { stormRows } from "./storm-rows.mjs";

const PROFILES = [
  ["openPlaintext", "open/plaintext"],
  ["strictPlaintext", "strict-overlay/plaintext"],
  ["strictChannel", "strict-overlay/channel"],
];

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const times = (x) => `${x.toFixed(2)}×`;

function row(section, label, value, unit, extra = {}) {
  return { section, label, value, unit, ...extra };
}

function latency(r) {
  return r?.latencyMs ? { p50: r.latencyMs.p50, p99: r.latencyMs.p99 } : {};
}

/** CPU time of all measured processes per operation (µs), and the split by process */
function cpu(r, per = 1) {
  const split = r?.cpuUsPerOp;
  if (!split || Object.keys(split).length === 0) return {};
  const parts = Object.fromEntries(Object.entries(split).map(([k, v]) => [k, v / per]));
  return { cpuUs: Object.values(parts).reduce((a, b) => a + b, 0), cpuSplit: parts };
}

/** latency and CPU of a closed-loop result */
const measured = (r, per = 1) => ({ ...latency(r), ...cpu(r, per) });

export function buildRows(results) {
  const rows = [];
  const L = results.limits;
  const relaySeq = L?.relayTls.seq;
  const relayPipe = L?.relayTls.inflight64;
  if (L) {
    const limit = (name, r) => row("limit", name, r.perSec, "round trips/s", measured(r));
    rows.push(limit(`ws echo TLS, sequential (${L.bytes} B)`, L.echoTls.seq));
    rows.push(limit(`ws echo TLS, 64 in flight (${L.bytes} B)`, L.echoTls.inflight64));
    rows.push(limit("ws echo plain, sequential", L.echoPlain.seq));
    rows.push(limit("ws echo plain, 64 in flight", L.echoPlain.inflight64));
    rows.push({
      ...limit("relay TLS (one hop), sequential", relaySeq),
      ratio: `${pct(relaySeq.perSec / L.echoTls.seq.perSec)} of echo TLS`,
    });
    rows.push({
      ...limit("relay TLS (one hop), 64 in flight", relayPipe),
      ratio: `${pct(relayPipe.perSec / L.echoTls.inflight64.perSec)} of echo TLS`,
    });
  }
  const F = results.fabric;
  if (F) {
    for (const [key, name] of PROFILES) {
      const r = F[key]?.results;
      if (!r) continue;
      const strictChannel = key === "strictChannel";
      const seq = r.add_seq;
      const seqRatio = relaySeq ? seq.latencyMs.p50 / relaySeq.latencyMs.p50 : undefined;
      rows.push(
        row("fabric", `RPC add ${name}, sequential`, seq.perSec, "calls/s", {
          ...measured(seq),
          ...(seqRatio !== undefined ? { ratio: `p50 ${times(seqRatio)} relay p50` } : {}),
          ...(strictChannel && seqRatio !== undefined
            ? { target: "p50 ≤ 2× relay p50", pass: seqRatio <= 2 }
            : {}),
        }),
      );
      const pipe = r.add_inflight64;
      const pipeRatio = relayPipe ? pipe.perSec / relayPipe.perSec : undefined;
      rows.push(
        row("fabric", `RPC add ${name}, 64 in flight`, pipe.perSec, "calls/s", {
          ...measured(pipe),
          ...(pipeRatio !== undefined ? { ratio: `${pct(pipeRatio)} of relay` } : {}),
          ...(strictChannel && pipeRatio !== undefined
            ? { target: "≥ 40% of relay", pass: pipeRatio >= 0.4 }
            : {}),
        }),
      );
      const fib = r.fib_stream;
      rows.push(
        row("fabric", `fib_stream(1000) ${name}`, fib.itemsPerSec, "items/s", {
          ...cpu(fib, 1000),
          ...(relayPipe ? { ratio: `${pct(fib.itemsPerSec / relayPipe.perSec)} of relay 64-in-flight` } : {}),
        }),
      );
      const hs = r.handshake_seq;
      if (hs) {
        rows.push(
          row("fabric", `channel handshakes ${name}, sequential`, hs.perSec, "handshakes/s", {
            ...measured(hs),
            ...(relaySeq ? { ratio: `${pct(hs.perSec / relaySeq.perSec)} of relay sequential` } : {}),
          }),
        );
      }
    }
    if (F.failover) {
      rows.push(
        row(
          "fabric",
          "failover: SIGKILL pinned replica → next call (median of 5)",
          F.failover.medianMs,
          "ms",
          {
            target: "≤ 250 ms",
            pass: F.failover.medianMs <= 250,
          },
        ),
      );
    }
  }
  const S = results.scale;
  if (S) {
    const small = S.pins[0];
    for (const p of S.pins) {
      const isMillion = p.pins >= 1_000_000;
      const overhead = p.lookupsPerSec / p.bareMapLookupsPerSec;
      const smallOverhead = small.lookupsPerSec / small.bareMapLookupsPerSec;
      const mb = p.rssExtraBytes / 1024 / 1024;
      rows.push(
        row(
          "scale",
          `sticky table, ${p.pins.toLocaleString("en-US")} pins: lookups`,
          p.lookupsPerSec,
          "lookups/s",
          {
            ratio: `${pct(overhead)} of bare Map.get`,
            ...(isMillion
              ? {
                  target: "O(1): vs bare Map ≥ ½ of 10k's",
                  pass: overhead >= smallOverhead / 2,
                }
              : {}),
          },
        ),
      );
      rows.push(
        row("scale", `sticky table, ${p.pins.toLocaleString("en-US")} pins: extra RSS`, mb, "MB", {
          ratio: `${Math.round(p.bytesPerPin)} B/pin on the heap`,
          ...(isMillion ? { target: "≤ 300 MB", pass: mb <= 300 } : {}),
        }),
      );
    }
    if (S.attach) {
      const a = S.attach;
      rows.push(
        row(
          "scale",
          `attach rate (${a.nodes} nodes, ${a.concurrency} at a time, TLS + signed attach)`,
          a.attachPerSec,
          "nodes/s",
          measured(a),
        ),
      );
      rows.push(row("scale", "sentinel memory per attached node", a.bytesPerNode / 1024, "KB"));
    }
    rows.push(...idleRows(S.idle));
  }
  rows.push(...ratioRows(results.ratios));
  rows.push(...payloadRows(results.payloads));
  rows.push(...stormRows(results.storm));
  rows.push(...hopRows(results.hops));
  rows.push(...clusterRows(results.cluster));
  return rows;
}

/**
 * Cluster rows: each run against one sentinel on the memory backend (the single-sentinel
 * fabric), measured in the same section so the ratios come from one run.
 */
function clusterRows(C) {
  if (!C || C.skipped || !C.memory) return [];
  const rows = [];
  const base = C.memory;
  const runs = [
    ["memory", "1 sentinel, memory", base],
    ["nats1", "1 sentinel, NATS", C.oneSentinel],
    ["cross2", "2 sentinels, client on B, replica on A", C.twoSentinels],
    ["cross3", "3 sentinels, client on C, replica on A", C.threeSentinels],
  ];
  for (const [key, name, r] of runs) {
    if (!r) continue;
    const cross = key.startsWith("cross");
    // cross rows carry runs paired back to back with one sentinel: the median pair decides
    const paired = Array.isArray(r.pairs) && r.pairs.length > 0;
    const seqRatio = paired
      ? median(r.pairs.map((p) => p.ratio))
      : r.add_seq.latencyMs.p50 / base.add_seq.latencyMs.p50;
    const ratioText = paired
      ? `p50 ${times(seqRatio)} one sentinel's (median of ${r.pairs.length} pairs: ${r.pairs.map((p) => times(p.ratio)).join(", ")})`
      : `p50 ${times(seqRatio)} one sentinel's`;
    rows.push(
      row("cluster", `RPC add channel, ${name}, sequential`, r.add_seq.perSec, "calls/s", {
        ...measured(r.add_seq),
        ...(key === "memory" ? {} : { ratio: ratioText }),
        ...(cross ? { target: "p50 ≤ 2× one sentinel's", pass: seqRatio <= 2 } : {}),
      }),
    );
    const pipeRatio = r.add_inflight64.perSec / base.add_inflight64.perSec;
    rows.push(
      row("cluster", `RPC add channel, ${name}, 64 in flight`, r.add_inflight64.perSec, "calls/s", {
        ...measured(r.add_inflight64),
        ...(key === "memory" ? {} : { ratio: `${pct(pipeRatio)} of one sentinel's` }),
        ...(cross ? { target: "≥ 50% of one sentinel's", pass: pipeRatio >= 0.5 } : {}),
      }),
    );
    const hs = r.handshake_seq;
    rows.push(
      row("cluster", `channel opens (a pin each), ${name}`, hs.perSec, "opens/s", {
        ...measured(hs),
        ...(key === "memory" ? {} : { ratio: `${pct(hs.perSec / base.handshake_seq.perSec)} of memory` }),
      }),
    );
  }
  const am = C.attach_memory;
  const an = C.attach_nats;
  for (const [name, a] of [
    ["memory", am],
    ["NATS", an],
  ]) {
    if (!a) continue;
    rows.push(
      row(
        "cluster",
        `attach rate, ${name} backend (${a.nodes} nodes, ${a.concurrency} at a time)`,
        a.attachPerSec,
        "nodes/s",
        {
          ...measured(a),
          ...(a === an && am ? { ratio: `${pct(an.attachPerSec / am.attachPerSec)} of memory` } : {}),
        },
      ),
    );
  }
  if (C.failover) {
    rows.push(
      row(
        "cluster",
        `failover: SIGKILL the client's sentinel → next call (median of ${C.failover.rounds.length})`,
        C.failover.medianMs,
        "ms",
        {
          target: "≤ 1000 ms",
          pass: C.failover.medianMs <= 1000,
        },
      ),
    );
  }
  return rows;
}

function fmtValue(v, unit) {
  if (unit === "%") return `${v.toFixed(1)}%`;
  if (unit === "×") return `${v.toFixed(2)}×`;
  if (unit === "ms" || unit === "MB" || unit === "KB" || unit === "KiB") return `${v.toFixed(1)} ${unit}`;
  return `${Math.round(v).toLocaleString("en-US")} ${unit}`;
}

const fmtMs = (v) => (v === undefined ? "" : v < 10 ? v.toFixed(2) : v.toFixed(1));

export function formatTable(rows) {
  const cells = rows.map((r) => [
    r.label,
    fmtValue(r.value, r.unit),
    fmtMs(r.p50),
    fmtMs(r.p99),
    r.cpuUs === undefined ? "" : r.cpuUs.toFixed(1),
    r.ratio ?? "",
    r.target ? `${r.pass ? "PASS" : "FAIL"} (${r.target})` : "",
  ]);
  const head = ["row", "result", "p50 ms", "p99 ms", "CPU µs/op", "vs limit", "target"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) =>
    `| ${c.map((x, i) => (i >= 1 && i <= 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i >= 1 && i <= 4 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(head), sep, ...cells.map(line)].join("\n");
}

export function formatProfile(profile) {
  if (!profile) return "";
  const parts = [];
  for (const [role, p] of Object.entries(profile)) {
    if (!p) {
      parts.push(`${role}: no profile written`);
      continue;
    }
    const areas = p.areas
      .slice(0, 6)
      .map((a) => `${a.name} ${a.pct}%`)
      .join(", ");
    const fns = p.topFunctions
      .slice(0, 8)
      .map((f) => `${f.name} ${f.pct}%`)
      .join("; ");
    parts.push(
      `${role} (busy ${(100 - p.idlePct).toFixed(0)}% of ${p.durationMs} ms): ${areas}\n  top self: ${fns}`,
    );
  }
  return parts.join("\n");
}
