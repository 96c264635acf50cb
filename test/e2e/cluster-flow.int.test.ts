import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The cluster as a user runs it, through the real Makefile in a copy of the working tree on free
 * ports (so a developer's own fabric and run/ are never touched): make start-cluster → make status
 * → make run → make cluster-demo (SIGKILLs the client's sentinel, a replica's sentinel, a NATS
 * server) → make kill-sentinel / restart-sentinel → make stop. Needs nats-server (Debian's
 * package); skipped, saying so, where it is not installed.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NATS = ["nats-1", "nats-2", "nats-3"];
const SENTINELS = ["sentinel1", "sentinel2", "sentinel3"];
const REPLICAS = ["math-agent-replica1", "math-agent-replica2", "math-agent-replica3"];
const PROCESSES = [...NATS, "oauth2", "welcome", "ca", ...SENTINELS, ...REPLICAS];
const natsInstalled =
  existsSync("/usr/sbin/nats-server") || spawnSync("sh", ["-c", "command -v nats-server"]).status === 0;

let work: string;
let env: NodeJS.ProcessEnv;
const seenPids = new Set<number>();

interface MakeResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function make(args: string[], timeoutMs: number): Promise<MakeResult> {
  return new Promise((resolve) => {
    const child = spawn("make", ["--no-print-directory", ...args], {
      cwd: work,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString("utf8");
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A live process; a zombie (an orphan init has not reaped) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function pidOf(name: string): number | undefined {
  const file = join(work, "run", `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  seenPids.add(pid);
  return pid;
}

/** The working tree as a clone has it (no certs/, no run/), dist/ and node_modules linked in. */
function copyRepo(to: string): void {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const f of listed.stdout.split("\0")) {
    if (f === "" || f.startsWith("run/")) continue;
    const from = join(ROOT, f);
    if (!existsSync(from) || statSync(from).isDirectory()) continue;
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(from, join(to, f), { preserveTimestamps: true, verbatimSymlinks: true });
  }
  for (const group of ["packages", "services"]) {
    for (const pkg of readdirSync(join(ROOT, group))) {
      for (const sub of ["dist", "node_modules"]) {
        const from = join(ROOT, group, pkg, sub);
        if (existsSync(from)) {
          cpSync(from, join(to, group, pkg, sub), {
            recursive: true,
            preserveTimestamps: true,
            verbatimSymlinks: true,
          });
        }
      }
    }
  }
  mkdirSync(join(to, "node_modules"));
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry === ".modules.yaml") continue;
    symlinkSync(join(ROOT, "node_modules", entry), join(to, "node_modules", entry));
  }
  copyFileSync(join(ROOT, "node_modules", ".modules.yaml"), join(to, "node_modules", ".modules.yaml"));
  symlinkSync(join(ROOT, ".tools"), join(to, ".tools"));
}

beforeAll(async () => {
  if (!natsInstalled) return;
  work = mkdtempSync(join(tmpdir(), "fame-cluster-flow-"));
  copyRepo(work);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("FAME_") && !["MAKEFLAGS", "MFLAGS", "MAKELEVEL"].includes(k),
    ),
  );
  const p = await freePorts(15);
  const list = (from: number) => p.slice(from, from + 3).join(",");
  env = {
    ...inherited,
    FAME_OAUTH2_PORT: String(p[0]),
    FAME_WELCOME_PORT: String(p[1]),
    FAME_CA_PORT: String(p[2]),
    FAME_SENTINEL_PORTS: list(3),
    FAME_NATS_PORTS: list(6),
    FAME_NATS_CLUSTER_PORTS: list(9),
    FAME_NATS_MONITOR_PORTS: list(12),
    FAME_START_TIMEOUT_SEC: "90",
  };
}, 120_000);

afterAll(async () => {
  if (work === undefined) return;
  await make(["stop"], 90_000);
  for (const name of PROCESSES) pidOf(name);
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe.skipIf(!natsInstalled)("a sentinel cluster through make, from a fresh copy", () => {
  it("make start-cluster starts 3 NATS servers, the identity services, 3 sentinels and 3 replicas", async () => {
    const r = await make(["start-cluster"], 300_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/FAME cluster is up/);
    for (const name of PROCESSES) {
      const pid = pidOf(name);
      expect(pid, `${name}.pid`).toBeDefined();
      expect(alive(pid!), `${name} alive`).toBe(true);
    }
    // the NATS token lives in a file the sentinels and Welcome read, never on a command line
    const token = readFileSync(join(work, "certs", "secrets", "nats-token"), "utf8").trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    for (const name of NATS) {
      expect(readFileSync(`/proc/${pidOf(name)}/cmdline`, "utf8")).not.toContain(token);
      expect(statSync(join(work, "run", `${name}.conf`)).mode & 0o077).toBe(0);
    }
  }, 320_000);

  it("make status shows every NATS server healthy with its routes, and each sentinel's nodes", async () => {
    const r = await make(["status"], 60_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const name of NATS) expect(r.stdout).toMatch(new RegExp(`${name} .* healthy, 2 routes`));
    for (const name of SENTINELS) expect(r.stdout).toMatch(new RegExp(`${name} .* nodes?, .* state ok`));
    // every replica is listed under exactly one sentinel
    for (const name of REPLICAS) expect(r.stdout.split(`    ${name} `).length - 1, name).toBe(1);
  }, 70_000);

  it("make run: the demo client's calls answer through the cluster", async () => {
    const r = await make(["run"], 60_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("add(3, 4) = 7");
    expect(r.stdout).toMatch(/served by: math-agent-replica[123]/);
  }, 70_000);

  it("make cluster-demo: no failed call and no wait over 2 s while two sentinels and a NATS server die", async () => {
    const r = await make(["cluster-demo"], 300_000);
    const lines = r.stdout.trimEnd().split("\n");
    const last = lines.at(-1) ?? "";
    const m = /^cluster-demo: calls=(\d+) failures=(\d+) max_gap_ms=(\d+)$/.exec(last);
    expect(m, r.stdout).not.toBeNull();
    expect(lines.filter((l) => l.startsWith("cluster-demo:"))).toHaveLength(1);
    expect(Number(m![1])).toBeGreaterThan(30);
    expect(Number(m![2]), r.stdout).toBe(0);
    expect(Number(m![3]), r.stdout).toBeLessThan(2000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/SIGKILL sentinel\d .*the client is attached to/);
    expect(r.stdout).toMatch(/SIGKILL sentinel\d .*the pinned replica/);
    expect(r.stdout).toMatch(/SIGKILL nats-\d/);
  }, 310_000);

  it("make kill-sentinel N=2 SIGKILLs it by PID; make restart-sentinel N=2 brings it back", async () => {
    const pid = pidOf("sentinel2")!;
    const k = await make(["kill-sentinel", "N=2"], 30_000);
    expect(k.code, `${k.stdout}\n${k.stderr}`).toBe(0);
    expect(k.stdout).toContain(`killed sentinel2 (pid ${pid}) with SIGKILL`);
    expect(alive(pid)).toBe(false);
    const s = await make(["restart-sentinel", "N=2"], 120_000);
    expect(s.code, `${s.stdout}\n${s.stderr}`).toBe(0);
    expect(s.stdout).toMatch(/started sentinel2 \(pid \d+\), ready after/);
    expect(alive(pidOf("sentinel2")!)).toBe(true);
  }, 160_000);

  it("make stop stops all 12 by PID, NATS servers included", async () => {
    for (const name of PROCESSES) pidOf(name);
    const r = await make(["stop"], 120_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/stopped 12 processes/);
    for (const pid of seenPids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const name of PROCESSES) expect(existsSync(join(work, "run", `${name}.pid`))).toBe(false);
  }, 130_000);
});
