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
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../browser/chromium.js";

/** the DOM the page functions below use, run in Chromium (the test program has no DOM types) */
interface DomElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
}
declare const document: { querySelectorAll(selector: string): Iterable<DomElement> & { length: number } };

/**
 * What a user does from a fresh clone, through the real Makefile: make start →
 * make run → make kill-replica → make run → make stop, in a copy of the working
 * tree on free ports, so a developer's own fabric (default ports, run/) is
 * never touched. node_modules and .tools are linked from this checkout, and
 * dist/ is copied with its timestamps so `make build` has little to do.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROCESSES = [
  "oauth2",
  "welcome",
  "ca",
  "sentinel",
  "math-agent-replica1",
  "math-agent-replica2",
] as const;
const REPLICAS = ["math-agent-replica1", "math-agent-replica2"] as const;

let work: string;
let env: NodeJS.ProcessEnv;
/** every PID seen in a PID file, for the final check and the cleanup */
const seenPids = new Set<number>();

interface MakeResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs make in the copy, bounded; output is captured, never inherited. */
function make(args: string[], timeoutMs: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<MakeResult> {
  return new Promise((resolve) => {
    const child = spawn("make", ["--no-print-directory", ...args], {
      cwd: work,
      env: { ...env, ...extraEnv },
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

/**
 * Whether a PID is a live process. The fabric's processes outlive the make that
 * started them, so they are re-parented to init; where init does not reap
 * orphans they linger as zombies after exiting, which count as gone.
 */
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

const servedCount = (replica: string): number => {
  const file = join(work, "run", `${replica}.log`);
  return existsSync(file) ? (readFileSync(file, "utf8").match(/"msg":"served"/g) ?? []).length : 0;
};

/** The working tree (tracked and untracked, not ignored) as a user's clone would have it. */
function copyRepo(to: string): void {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const files = listed.stdout.split("\0").filter((f) => f !== "" && !f.startsWith("run/"));
  expect(files.length).toBeGreaterThan(50);
  for (const f of files) {
    const from = join(ROOT, f);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet in git
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
  // A real node_modules whose entries link to this checkout's: the install
  // stamp is a fresh copy, so make sees dependencies as installed.
  mkdirSync(join(to, "node_modules"));
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry === ".modules.yaml") continue;
    symlinkSync(join(ROOT, "node_modules", entry), join(to, "node_modules", entry));
  }
  copyFileSync(join(ROOT, "node_modules", ".modules.yaml"), join(to, "node_modules", ".modules.yaml"));
  symlinkSync(join(ROOT, ".tools"), join(to, ".tools"));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fame-make-flow-"));
  copyRepo(work);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("FAME_") && !["MAKEFLAGS", "MFLAGS", "MAKELEVEL"].includes(k),
    ),
  );
  // Held together: four separate freePort() calls can be handed the same released port.
  const [oauth2, welcome, ca, sentinel] = (await freePorts(4)).map(String);
  env = {
    ...inherited,
    FAME_OAUTH2_PORT: oauth2!,
    FAME_WELCOME_PORT: welcome!,
    FAME_CA_PORT: ca!,
    FAME_SENTINEL_PORT: sentinel!,
    FAME_START_TIMEOUT_SEC: "90",
  };
}, 120_000);

afterAll(async () => {
  if (work === undefined) return;
  await make(["stop"], 60_000);
  for (const name of PROCESSES) pidOf(name);
  for (const pid of seenPids) {
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("the demo fabric through make, from a fresh copy", () => {
  let first: string;

  it("make start builds, generates the PKI and starts all six processes", async () => {
    const r = await make(["start"], 300_000);
    expect(r.stderr).not.toMatch(/fabric: /);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/dev PKI written to certs\//);
    expect(r.stdout).toMatch(/FAME fabric is up/);
    expect(r.stdout).toContain(`wss://127.0.0.1:${env["FAME_SENTINEL_PORT"]}/fame/v1/attach/ws/downstream`);
    expect(r.stdout).toContain(`https://127.0.0.1:${env["FAME_SENTINEL_PORT"]}/dashboard `);
    for (const name of PROCESSES) {
      const pid = pidOf(name);
      expect(pid, `${name}.pid`).toBeDefined();
      expect(alive(pid!), `${name} alive`).toBe(true);
    }
  }, 320_000);

  it("make start again starts no duplicates", async () => {
    const before = PROCESSES.map(pidOf);
    const r = await make(["start"], 120_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/was already running/);
    expect(r.stdout).not.toMatch(/ started /);
    expect(PROCESSES.map(pidOf)).toEqual(before);
  }, 130_000);

  it("make run: 7, 42 and the Fibonacci list, every call on one replica", async () => {
    const served = REPLICAS.map(servedCount);
    const r = await make(["run"], 60_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("add(3, 4) = 7");
    expect(r.stdout).toContain("multiply(6, 7) = 42");
    expect(r.stdout).toContain("fib_stream(10) = 0 1 1 2 3 5 8 13 21 34");
    const replica = /served by: (math-agent-replica[12])/.exec(r.stdout)?.[1];
    expect(replica).toBeDefined();
    first = replica!;
    const other = REPLICAS.find((n) => n !== first)!;
    const i = REPLICAS.indexOf(first as (typeof REPLICAS)[number]);
    // add, multiply, fib_stream and whoami: all four on the pinned replica, none elsewhere
    await expect.poll(() => servedCount(first), { timeout: 5000 }).toBe(served[i]! + 4);
    expect(servedCount(other)).toBe(served[1 - i]);
  }, 70_000);

  it("make dashboard: a link with the token in its fragment, which headless Chromium (trusting only the fabric's certificate) renders with both replicas and make run's calls", async () => {
    // no display: print only, open nothing
    const d = await make(["dashboard"], 60_000, { DISPLAY: "", WAYLAND_DISPLAY: "" });
    expect(d.code, `${d.stdout}\n${d.stderr}`).toBe(0);
    const link = /^(https:\/\/127\.0\.0\.1:\d+\/dashboard)#token=(\S+)$/m.exec(d.stdout);
    expect(link, d.stdout).not.toBeNull();
    const token = readFileSync(join(work, "certs", "secrets", "admin-token"), "utf8").trim();
    expect(decodeURIComponent(link![2]!)).toBe(token);
    expect(d.stdout).not.toContain("opened in your browser");

    const browser = await launchChromium({
      trustCertificatePem: readFileSync(join(work, "certs", "server.pem"), "utf8"),
    });
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await page.goto(link![0]);
      expect(page.url()).toBe(link![1]);
      const rows = 'table[data-pool="math@fame.fabric"] tr[data-replica]';
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 2, rows, {
        timeout: 30_000,
        polling: 200,
      });
      // a replica's calls/s moves for the second make run's calls land in
      const calls = page.waitForFunction(
        (sel) =>
          [...document.querySelectorAll(sel)].some(
            (r) => Number(r.querySelector('[data-col="calls"]')?.getAttribute("data-value") ?? "0") > 0,
          ),
        rows,
        { timeout: 60_000, polling: 100 },
      );
      const r = await make(["run"], 60_000);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      await calls;
      mkdirSync(join(ROOT, "run"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "run", "dashboard-make-start.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 150_000);

  it("make kill-replica on the one that served, then make run succeeds on the other", async () => {
    const n = first.endsWith("1") ? "1" : "2";
    const pid = pidOf(first)!;
    const k = await make(["kill-replica", `R=${n}`], 30_000);
    expect(k.code, `${k.stdout}\n${k.stderr}`).toBe(0);
    expect(k.stdout).toContain(`killed ${first} (pid ${pid}) with SIGKILL`);
    expect(alive(pid)).toBe(false);
    const r = await make(["run"], 60_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("add(3, 4) = 7");
    const replica = /served by: (math-agent-replica[12])/.exec(r.stdout)?.[1];
    expect(replica).toBe(REPLICAS.find((x) => x !== first));
  }, 100_000);

  it("make stop leaves no process behind; a second make stop says nothing runs", async () => {
    for (const name of PROCESSES) pidOf(name);
    expect(seenPids.size).toBeGreaterThanOrEqual(PROCESSES.length);
    const r = await make(["stop"], 90_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/stopped 5 processes/);
    for (const pid of seenPids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const name of PROCESSES) expect(existsSync(join(work, "run", `${name}.pid`))).toBe(false);
    const again = await make(["stop"], 30_000);
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(again.stdout).toContain("nothing running");
  }, 130_000);
});
