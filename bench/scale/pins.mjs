/**
 * Sentinel scale row: the sticky table (AFTLoadBalancerStickinessManager) with N pins.
 * Run with --expose-gc in a fresh process per N, so memory growth is this table's alone.
 * Args: { pins, clients, replicas, lookupSample, minLookupMs }.
 * Pins take the `signed-optional` path without an AFT: the same table and pin objects as
 * strict, without N signature checks (their cost is the handshake row's, not the table's).
 */
import { AFTLoadBalancerStickinessManager } from "../../packages/sentinel/dist/index.js";
import { emitResult, readArgs, runChild } from "../lib/child-io.mjs";
import { nowMs } from "../lib/stats.mjs";

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const idBuf = Buffer.alloc(22);

/**
 * A 22-character id like newId(), derived from (tag, i) so lookups can rebuild it:
 * characters 1-5 spell i in base 64 (unique below 2^30), the rest is a hash of i so
 * ids look random. Built through a Buffer so each is a fresh flat string, as JSON.parse
 * hands them to the sentinel.
 */
function idOf(tag, i) {
  idBuf[0] = tag.charCodeAt(0);
  let x = i;
  for (let k = 1; k <= 5; k++) {
    idBuf[k] = ID_ALPHABET.charCodeAt(x & 63);
    x = Math.floor(x / 64);
  }
  let h = i | 0;
  for (let k = 6; k < 22; k++) {
    h = (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + k) | 0;
    idBuf[k] = ID_ALPHABET.charCodeAt(h & 63);
  }
  return idBuf.toString("latin1");
}

function memory() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

runChild("pins", async () => {
  if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");
  const args = readArgs();
  const n = args.pins;
  const clients = Math.max(1, args.clients ?? Math.ceil(n / 10));
  const replicas = args.replicas ?? 16;
  const replicaIds = Array.from({ length: replicas }, (_, r) => `replica${r}`);
  const clientSids = Array.from({ length: clients }, (_, c) => idOf("s", c));
  const mgr = new AFTLoadBalancerStickinessManager({
    securityLevel: "signed-optional",
    maxEntries: Math.max(1000, Math.ceil(n * 1.1)),
    defaultTtlSec: 3600,
  });
  const before = memory();
  const t0 = nowMs();
  for (let i = 0; i < n; i++) {
    const r = await mgr.onSecureAccept({
      replicaId: replicaIds[i % replicas],
      replicaSid: replicaIds[i % replicas],
      clientSid: clientSids[i % clients],
      cid: idOf("c", i),
    });
    if (!r.pinned) throw new Error(`pin ${i} refused: ${r.reason}`);
  }
  const insertMs = nowMs() - t0;
  const after = memory();
  if (mgr.size !== n) throw new Error(`table holds ${mgr.size} pins, expected ${n}`);

  // Lookups with fresh key strings (as decoded from the wire), in random order.
  const sample = Math.min(args.lookupSample ?? 100_000, n);
  const inputs = [];
  for (let k = 0; k < sample; k++) {
    const i = Math.floor(Math.random() * n);
    inputs.push({ clientSid: idOf("s", i % clients), cid: idOf("c", i), expect: replicaIds[i % replicas] });
  }
  let lookups = 0;
  let wrong = 0;
  const minMs = args.minLookupMs ?? 1000;
  const l0 = nowMs();
  let elapsed = 0;
  for (let round = 0; round < 1000 && elapsed < minMs; round++) {
    for (const input of inputs) {
      const d = mgr.route(input);
      if (d.kind !== "pinned" || d.replicaId !== input.expect) wrong++;
    }
    lookups += inputs.length;
    elapsed = nowMs() - l0;
  }
  if (wrong > 0) throw new Error(`${wrong} lookups routed wrongly`);
  const lookupsPerSec = (lookups * 1000) / elapsed;

  // The floor under it: a bare Map from the same keys, read with the same fresh strings.
  const bare = new Map();
  for (let i = 0; i < n; i++) bare.set(idOf("c", i), replicaIds[i % replicas]);
  let bareLookups = 0;
  const b0 = nowMs();
  let bareElapsed = 0;
  for (let round = 0; round < 1000 && bareElapsed < minMs; round++) {
    for (const input of inputs) if (bare.get(input.cid) !== input.expect) wrong++;
    bareLookups += inputs.length;
    bareElapsed = nowMs() - b0;
  }
  if (wrong > 0) throw new Error(`${wrong} bare Map lookups wrong`);
  emitResult({
    pins: n,
    clients,
    replicas,
    insertPerSec: (n * 1000) / insertMs,
    lookupsPerSec,
    bareMapLookupsPerSec: (bareLookups * 1000) / bareElapsed,
    rssExtraBytes: after.rss - before.rss,
    heapExtraBytes: after.heapUsed - before.heapUsed,
    bytesPerPin: (after.heapUsed - before.heapUsed) / n,
  });
});
