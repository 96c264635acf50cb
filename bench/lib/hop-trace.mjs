/**
 * Reads the traces bench/lib/hop-trace-hook.mjs wrote and splits a sequential round trip into
 * its legs: for each message, its sender's "out" (send → socket write: framing, and the rest of
 * the sender's turn when the socket is corked), the "wire" (socket write → bytes at the
 * receiver's parser: TLS, the kernel's loopback, waking the receiver), the receiver's "in"
 * (parser → whole message) and "work" (message → its own send: everything the process does
 * with it). Medians over every complete round trip of the window, with the fabric's stage
 * marks as offsets from the bytes' arrival when they were recorded. A wire leg also says when
 * its bytes arrived after the writing process's turn ended: never before it, in every run so
 * far, since TCP wakes a loopback reader onto its writer's vCPU (docs/performance.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { median } from "./stats.mjs";

const SEND = 1;
const RECV = 2;
const WRITE = 3;
const DATA = 4;
const WRITTEN = 5;
const IDLE = 6;
/** the hook's transport events (hop-trace-hook.mjs); every other name in a trace is a stage mark */
const TRANSPORT = new Set(["", "send", "recv", "write", "data", "written", "idle"]);
/** round trips read at most (the newest), so a long window stays quick to analyze */
const MAX_TRIPS = 20_000;

/** the newest trace of each process name in `dir`: name → { names, rows } */
export function readTraces(dir) {
  const out = {};
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return out;
  }
  for (const f of files.sort()) {
    const name = f.replace(/-\d+\.json$/, "");
    out[name] = JSON.parse(readFileSync(join(dir, f), "utf8"));
  }
  return out;
}

/** sorted times of one event kind */
function times(trace, kind) {
  const out = [];
  for (const [t, k] of trace.rows) if (k === kind) out.push(t);
  return out;
}

/** first element of a sorted array after `t` (binary search), or undefined */
function after(arr, t) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return arr[lo];
}

/**
 * Legs of the round trips `path` describes: the processes a request visits and its answer
 * comes back through, e.g. ["client", "sentinel", "replica", "sentinel", "client"].
 * Returns null when a trace is missing or no round trip completed.
 */
export function roundTripLegs(traces, path) {
  for (const p of new Set(path)) if (!traces[p]) return null;
  const ev = {};
  for (const p of new Set(path)) {
    ev[p] = {
      [SEND]: times(traces[p], SEND),
      [RECV]: times(traces[p], RECV),
      [WRITE]: times(traces[p], WRITE),
      [DATA]: times(traces[p], DATA),
      [IDLE]: times(traces[p], IDLE),
    };
  }
  // the steps of one round trip, each named by the leg that ends at it
  const steps = [{ proc: path[0], kind: WRITE, leg: `${path[0]} out` }];
  for (let i = 1; i < path.length; i++) {
    const p = path[i];
    steps.push({ proc: p, kind: DATA, leg: `wire ${path[i - 1]} → ${p}` });
    steps.push({ proc: p, kind: RECV, leg: `${p} in` });
    if (i < path.length - 1) {
      steps.push({ proc: p, kind: SEND, leg: `${p} work` });
      steps.push({ proc: p, kind: WRITE, leg: `${p} out` });
    }
  }
  steps.push({ proc: path[0], kind: SEND, leg: `${path[0]} work` });
  const starts = ev[path[0]][SEND];
  const legs = steps.map((s) => ({ name: s.leg, us: [] }));
  /** per wire leg: its bytes' arrival after the end of the turn that wrote them */
  const afterIdle = steps.map(() => []);
  const cycles = [];
  // the newest round trips, leaving the last few (the run was ending)
  const to = Math.max(0, starts.length - 5);
  const from = Math.max(0, to - MAX_TRIPS);
  for (let i = from; i < to; i++) {
    let t = starts[i];
    const at = [];
    for (const s of steps) {
      t = after(ev[s.proc][s.kind], t);
      if (t === undefined) break;
      at.push(t);
    }
    if (at.length !== steps.length) continue;
    let prev = starts[i];
    for (let j = 0; j < at.length; j++) {
      legs[j].us.push((at[j] - prev) / 1000);
      if (steps[j].kind === DATA) {
        // the write that sent these bytes is the step before (its sender's WRITE)
        const idle = after(ev[steps[j - 1].proc][IDLE], at[j - 1]);
        if (idle !== undefined) afterIdle[j].push((at[j] - idle) / 1000);
      }
      prev = at[j];
    }
    cycles.push((at[at.length - 1] - starts[i]) / 1000);
  }
  if (cycles.length === 0) return null;
  const out = legs.map((l, j) =>
    afterIdle[j].length * 2 >= cycles.length
      ? { name: l.name, p50Us: median(l.us), afterSenderIdleP50Us: median(afterIdle[j]) }
      : { name: l.name, p50Us: median(l.us) },
  );
  return { trips: cycles.length, cycleP50Us: median(cycles), legs: out, totals: totalsOf(out) };
}

/** the legs summed by kind: the wire, the transport's in and out, and each process's work */
function totalsOf(legs) {
  const totals = { wire: 0, transport: 0, work: {} };
  for (const l of legs) {
    if (l.name.startsWith("wire ")) totals.wire += l.p50Us;
    else if (l.name.endsWith(" work")) {
      const p = l.name.slice(0, -5);
      totals.work[p] = (totals.work[p] ?? 0) + l.p50Us;
    } else totals.transport += l.p50Us;
  }
  return totals;
}

/**
 * Stage marks of one process: for every message that arrived (a "data" event) and left again
 * before the next arrived (its "write"), the offset of each mark's first entry after the
 * arrival; medians, in order. Marks seen for fewer than half the messages are left out.
 */
export function stageOffsets(trace) {
  if (!trace || trace.names.every((n) => TRANSPORT.has(n))) return [];
  const rows = trace.rows;
  const offsets = new Map();
  let messages = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i][1] !== DATA) continue;
    const t0 = rows[i][0];
    const seen = new Map();
    let j = i + 1;
    for (; j < rows.length && rows[j][1] !== DATA && rows[j][1] !== WRITE; j++) {
      const k = rows[j][1];
      if (!TRANSPORT.has(trace.names[k]) && !seen.has(k)) seen.set(k, (rows[j][0] - t0) / 1000);
    }
    if (j >= rows.length || rows[j][1] !== WRITE) continue;
    messages++;
    seen.set(WRITE, (rows[j][0] - t0) / 1000);
    for (const [k, us] of seen) {
      const list = offsets.get(k);
      if (list) list.push(us);
      else offsets.set(k, [us]);
    }
    i = j - 1;
  }
  const out = [];
  for (const [k, list] of offsets) {
    if (list.length * 2 < messages) continue;
    out.push({ mark: k === WRITE ? "(socket write)" : trace.names[k], atUs: median(list) });
  }
  return out.sort((a, b) => a.atUs - b.atUs);
}

/**
 * What a process's socket writes cost it: the write itself (`write` → `written`: TLS, the
 * syscall with the kernel's loopback delivery and the receiver's wake-up) and what its turn
 * still did after the write returned (`written` → `idle`). Medians; null for a trace without
 * those events (a hook older than them).
 */
export function writeCosts(trace) {
  if (!trace) return null;
  const writeUs = [];
  const tailUs = [];
  let writeAt;
  let writtenAt;
  for (const [t, k] of trace.rows) {
    if (k === WRITE) writeAt = t;
    else if (k === WRITTEN && writeAt !== undefined) {
      writeUs.push((t - writeAt) / 1000);
      writeAt = undefined;
      writtenAt = t;
    } else if (k === IDLE && writtenAt !== undefined) {
      tailUs.push((t - writtenAt) / 1000);
      writtenAt = undefined;
    }
  }
  if (writeUs.length === 0 || tailUs.length === 0) return null;
  return { writes: writeUs.length, writeP50Us: median(writeUs), afterWriteP50Us: median(tailUs) };
}
