/**
 * `pnpm bench`: the fabric measured against the physical limits of this machine.
 * Real processes on loopback (TLS everywhere the fabric uses it); every process is
 * started through @fame/testkit and stopped by PID, also on failure or Ctrl-C.
 * Prints a table and writes bench/results/<YYYY-MM-DD>.json.
 *
 *   node bench/run.mjs [--measure-ms N] [--warmup-ms N] [--no-profile] [--only limits,fabric,ratios,payloads,profile,scale,cluster,storm,hops] [--out FILE]
 * The cluster section needs nats-server (Debian's package); without it, it is skipped and says so.
 * `hops` (where a sequential round trip's time goes, per process and per leg) runs only when named.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defaultBackend } from "../packages/crypto/dist/index.js";
import { generateDevPki } from "../packages/identity/dist/dev.js";
import { stopAll } from "../packages/testkit/dist/index.js";
import { formatHops } from "./lib/hop-rows.mjs";
import { REPO_ROOT } from "./lib/procs.mjs";
import { createProgress } from "./lib/progress.mjs";
import { buildRows, formatProfile, formatTable } from "./lib/report.mjs";
import { runCluster } from "./sections/cluster.mjs";
import { runFabric } from "./sections/fabric.mjs";
import { runHops } from "./sections/hops.mjs";
import { runLimits } from "./sections/limits.mjs";
import { runPayloads } from "./sections/payloads.mjs";
import { runProfile } from "./sections/profile.mjs";
import { runRatios } from "./sections/ratios.mjs";
import { runScale } from "./sections/scale.mjs";
import { runStorm } from "./sections/storm.mjs";

const DEFAULT_SECTIONS = ["limits", "fabric", "ratios", "payloads", "profile", "scale", "cluster", "storm"];
/** run only when named with --only */
const SECTIONS = [...DEFAULT_SECTIONS, "hops"];
const USAGE =
  "[--measure-ms N] [--warmup-ms N] [--no-profile] [--only limits,fabric,ratios,payloads,profile,scale,cluster,storm,hops] [--out FILE]";

function parseFlags(argv) {
  // 2 s of warm-up before each window: a sequential fabric run makes ~3k calls/s through a few
  // thousand functions, and with 0.5 s the window still caught V8 optimizing them (p50 0.27
  // against 0.23 ms once warm; the limit rows' few functions are hot within milliseconds).
  const flags = { measureMs: 3000, warmupMs: 2000, only: new Set(DEFAULT_SECTIONS), out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--measure-ms") flags.measureMs = Math.min(60_000, Math.max(200, Number(value())));
    else if (a === "--warmup-ms") flags.warmupMs = Math.min(60_000, Math.max(0, Number(value())));
    else if (a === "--no-profile") flags.only.delete("profile");
    else if (a === "--only") flags.only = new Set(value().split(","));
    else if (a === "--out") flags.out = value();
    else if (a === "--") continue;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(`usage: node bench/run.mjs ${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown flag ${a} (see bench/run.mjs)`);
  }
  for (const s of flags.only) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}`);
  if (Number.isNaN(flags.measureMs)) throw new Error("--measure-ms needs a number");
  if (Number.isNaN(flags.warmupMs)) throw new Error("--warmup-ms needs a number");
  return flags;
}

const flags = parseFlags(process.argv.slice(2));
const progress = createProgress();
const resultsDir = join(REPO_ROOT, "bench", "results");
const cleanups = new Set();
const pkiDir = mkdtempSync(join(tmpdir(), "fame-bench-"));

async function cleanUp() {
  for (const fn of [...cleanups].reverse()) await fn().catch(() => {});
  await stopAll();
  rmSync(pkiDir, { recursive: true, force: true });
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    progress.step(`${signal}: stopping every process started here`);
    cleanUp().finally(() => process.exit(130));
  });
}

const startedAt = new Date();
// the machine may be shared: a busy neighbour moves rates more than CPU time per operation
const loadAtStart = loadavg();
const results = {};
let failure;
try {
  progress.step(`dev PKI for the limit servers in ${pkiDir}`);
  await generateDevPki({ dir: pkiDir });
  const pki = {
    dir: pkiDir,
    cert: join(pkiDir, "server.pem"),
    key: join(pkiDir, "server.key"),
    ca: join(pkiDir, "trust-bundle.pem"),
  };
  pki.caPem = readFileSync(pki.ca, "utf8");
  const ctx = { pki, progress, cleanups, resultsDir, warmupMs: flags.warmupMs, measureMs: flags.measureMs };
  if (flags.only.has("limits")) results.limits = await runLimits(ctx);
  if (flags.only.has("fabric")) results.fabric = await runFabric(ctx);
  if (flags.only.has("ratios")) results.ratios = await runRatios(ctx);
  if (flags.only.has("payloads")) results.payloads = await runPayloads(ctx);
  if (flags.only.has("storm")) results.storm = await runStorm(ctx);
  if (flags.only.has("profile")) results.profile = await runProfile(ctx);
  if (flags.only.has("scale")) results.scale = await runScale(ctx);
  if (flags.only.has("cluster")) results.cluster = await runCluster(ctx);
  if (flags.only.has("hops")) results.hops = await runHops(ctx);
} catch (err) {
  failure = err;
} finally {
  await cleanUp();
}
if (interrupted) process.exit(130);

const rows = buildRows(results);
const durationMs = progress.elapsedMs();
const day = startedAt.toISOString().slice(0, 10);
const outFile = flags.out ?? join(resultsDir, `${day}.json`);
mkdirSync(resultsDir, { recursive: true });
const cpu = cpus();
writeFileSync(
  outFile,
  `${JSON.stringify(
    {
      benchmark: "fabric",
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(durationMs),
      complete: failure === undefined,
      ...(failure ? { error: String(failure?.stack ?? failure) } : {}),
      settings: { measureMs: flags.measureMs, warmupMs: flags.warmupMs, sections: [...flags.only] },
      environment: {
        node: process.version,
        openssl: process.versions.openssl,
        // what every fabric process picks too, unless FAME_CRYPTO_BACKEND says otherwise
        cryptoBackend: defaultBackend().name,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim(),
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadavg(),
      },
      rows,
      results,
    },
    null,
    2,
  )}\n`,
);

process.stdout.write(`\n${formatTable(rows)}\n`);
const profileText = formatProfile(results.profile);
if (profileText)
  process.stdout.write(`\nCPU profile (strict-overlay/channel, 64 in flight):\n${profileText}\n`);
const hopsText = formatHops(results.hops);
if (hopsText) process.stdout.write(`\nSequential round trips, traced (medians):\n${hopsText}\n`);
const judged = rows.filter((r) => r.target);
process.stdout.write(
  `\ntargets: ${judged.filter((r) => r.pass).length}/${judged.length} pass; ` +
    `${(durationMs / 1000).toFixed(0)} s; results in ${outFile}\n`,
);
if (failure) {
  process.stderr.write(`\nbench failed: ${failure?.stack ?? failure}\n`);
  process.exit(1);
}
process.exit(0);
