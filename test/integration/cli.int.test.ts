import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type FabricStack,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  startProcess,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * The built `fame` CLI as a user runs it, a child process against a real fabric (OAuth2,
 * Welcome, CA, sentinel, a math replica; strict-overlay, channel encryption), configured only
 * by the FAME_* environment, from a directory outside the checkout. Agents made by
 * `fame new agent` are compiled with tsc and one of them is started and called.
 */
const CLI = join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
const VITEST = join(REPO_ROOT, "node_modules", "vitest", "vitest.mjs");

let stack: FabricStack;
let cliEnv: NodeJS.ProcessEnv;
let work: string;
let scaffolded: RunningProcess | undefined;
const clients = new TestClients(() => stack);

interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

const children = new Set<ChildProcess>();

/** Runs the CLI to its end, bounded; never inherits the test's environment. */
function fame(args: string[], env: NodeJS.ProcessEnv = cliEnv, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: work,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out, err });
    });
  });
}

/** The PATH and HOME a shell has, plus FAME_* only: nothing leaks in from the test runner. */
function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: process.env["HOME"] };
}

function link(target: string, path: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  symlinkSync(target, path);
}

/** node_modules for a scaffolded project, as npm or pnpm would lay them out, from this checkout's. */
function linkModules(dir: string): void {
  link(join(REPO_ROOT, "packages", "sdk"), join(dir, "node_modules", "@fame", "sdk"));
  link(join(REPO_ROOT, "node_modules", "zod"), join(dir, "node_modules", "zod"));
}

function tsc(project: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [TSC, "-p", project], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fame-cli-it-"));
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
  cliEnv = {
    ...baseEnv(),
    ...stack.clientEnv,
    FAME_SENTINEL_URL: stack.urls.attach,
    FAME_SENTINEL_ADMIN_TOKEN: stack.adminHeaders["authorization"]!.replace(/^Bearer /, ""),
  };
  // the log level the stack chose for its processes is not the CLI's
  delete cliEnv["FAME_LOG_LEVEL"];
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await scaffolded?.stop("SIGTERM", 5000);
  await tearDown(stack, clients);
  rmSync(work, { recursive: true, force: true });
});

describe("fame against a running fabric", () => {
  it("call prints a scalar result bare, with no logs on stderr", async () => {
    const r = await fame(["call", "math@fame.fabric", "add", '{"x":3,"y":4}']);
    expect(r).toEqual({ code: 0, out: "7\n", err: "" });
    const json = await fame(["call", "math@fame.fabric", "whoami", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ replica: "replica1" });
  });

  it("call travels over an encrypted channel (strict-overlay), its params never in clear", async () => {
    const r = await fame(["call", "math@fame.fabric", "add", '{"x":31337,"y":1}'], {
      ...cliEnv,
      FAME_SHOW_ENVELOPES: "1",
      FAME_LOG_LEVEL: "info",
      FAME_LOG_PRETTY: "0",
    });
    expect(r.code).toBe(0);
    expect(r.out).toBe("31338\n");
    const envelopes = r.err
      .split("\n")
      .filter((l) => l.includes('"msg":"envelope"'))
      .map((l) => JSON.parse(l) as { dir: string; type: string; to?: string; enc?: { alg: string } });
    expect(
      envelopes.some((e) => e.dir === "send" && e.type === "SecureOpen" && e.to === "math@fame.fabric"),
    ).toBe(true);
    const data = envelopes.filter(
      (e) => e.dir === "send" && e.type === "Data" && e.to === "math@fame.fabric",
    );
    expect(data.length).toBeGreaterThan(0);
    for (const e of data) expect(e.enc?.alg).toBe("chacha20-poly1305-channel");
    expect(r.err).not.toContain("31337");
  });

  it("stream prints items as lines, NDJSON with --json", async () => {
    const r = await fame(["stream", "math@fame.fabric", "fib_stream", '{"n":10}']);
    expect(r.code).toBe(0);
    expect(r.out).toBe("0\n1\n1\n2\n3\n5\n8\n13\n21\n34\n");
    const json = await fame(["stream", "math@fame.fabric", "fib_stream", '{"n":3}', "--json"]);
    expect(
      json.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([0, 1, 1]);
  });

  it("ops lists the math agent's operations from rpc.describe", async () => {
    const r = await fame(["ops", "math@fame.fabric"]);
    expect(r.code).toBe(0);
    const rows = new Map(
      r.out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => [l.split(/\s+/)[0], l]),
    );
    expect([...rows.keys()]).toEqual(expect.arrayContaining(["add", "multiply", "fib_stream", "whoami"]));
    expect(rows.get("fib_stream")).toMatch(/^fib_stream\s+yes\s+no/);
    expect(rows.get("add")).toMatch(/^add\s+no\s+yes/);
    const json = await fame(["ops", "math@fame.fabric", "--json"]);
    const ops = (JSON.parse(json.out) as { operations: { name: string; streaming: boolean }[] }).operations;
    expect(ops.find((o) => o.name === "fib_stream")?.streaming).toBe(true);
  });

  it("an RPC error: its code and message on stderr, exit 1", async () => {
    const r = await fame(["call", "math@fame.fabric", "add", '{"x":"three","y":4}']);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^fame: error -32602 invalid_params: .*x/);
  });

  it("bad params: a usage message and exit 2, nothing sent", async () => {
    const r = await fame(["call", "math@fame.fabric", "add", "{x:3}"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("params must be JSON");
  });

  it("status --json and pins --json parse; status shows the replica by name", async () => {
    const r = await fame(["status", "--json"]);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.out) as { sentinelId: string; pools: { pools: { address: string }[] } };
    expect(status.sentinelId).toBe("sentinel0");
    expect(status.pools.pools.map((p) => p.address)).toContain("math@fame.fabric");
    const plain = await fame(["status"]);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/math@fame\.fabric\s+\S+\s+replica1\s/);
    const pins = await fame(["pins", "--json"]);
    expect(pins.code).toBe(0);
    expect(JSON.parse(pins.out)).toHaveProperty("stickiness");
  });

  it("status without the admin token: the sentinel's refusal, exit 1", async () => {
    const { FAME_SENTINEL_ADMIN_TOKEN: _, ...env } = cliEnv;
    const r = await fame(["status"], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/HTTP 40[13]/);
  });

  it("unreachable: no sentinel, or no identity services → a clear message and exit 3", async () => {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    const status = await fame(["status", "--url", `https://127.0.0.1:${port}`]);
    expect(status.code).toBe(3);
    expect(status.err).toContain(`no sentinel answers at https://127.0.0.1:${port}`);
    const call = await fame(["call", "math@fame.fabric", "add", "{}"], {
      ...cliEnv,
      FAME_ADMISSION_TOKEN_URL: `https://127.0.0.1:${port}/oauth/token`,
    });
    expect(call.code).toBe(3);
    expect(call.err).toContain("make start");
  });

  it("drain: an unknown node is a clear 404 (exit 1); a replica by name is drained, then resumed", async () => {
    const unknown = await fame(["drain", "nosuchnode"]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no attached node "nosuchnode"');
    await stack.startReplica("replica-drain");
    const r = await fame(["drain", "replica-drain", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, draining: true, unchanged: false });
    const again = await fame(["drain", "replica-drain"]);
    expect(again.out).toMatch(/^\w+ was draining already: the sentinel sends it no new sessions/);
    const status = JSON.parse((await fame(["status", "--json"])).out) as {
      nodes: { name?: string; draining: boolean }[];
    };
    expect(status.nodes.find((n) => n.name === "replica-drain")?.draining).toBe(true);
    const resumed = await fame(["resume", "replica-drain"]);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/^resumed \w+: the sentinel gives it new sessions and channels again/);
    const twice = await fame(["resume", "replica-drain"]);
    expect(twice.code).toBe(0);
    expect(twice.out).toMatch(/^\w+ was not draining: nothing to resume/);
    const after = JSON.parse((await fame(["status", "--json"])).out) as typeof status;
    expect(after.nodes.find((n) => n.name === "replica-drain")?.draining).toBe(false);
    expect((await fame(["resume", "nosuchnode"])).code).toBe(1);
  });
});

describe("fame new agent", () => {
  it("in a workspace: services/<name> compiles with tsc against the SDK", () => {
    // a checkout's layout: topology and workspace file, tsconfig.base.json, this repo's packages
    const ws = join(work, "ws");
    mkdirSync(join(ws, "scripts", "fabric"), { recursive: true });
    cpSync(
      join(REPO_ROOT, "scripts", "fabric", "topology.mjs"),
      join(ws, "scripts", "fabric", "topology.mjs"),
    );
    for (const f of ["pnpm-workspace.yaml", "tsconfig.base.json"]) cpSync(join(REPO_ROOT, f), join(ws, f));
    link(join(REPO_ROOT, "packages"), join(ws, "packages"));
    link(join(REPO_ROOT, "node_modules", "@types"), join(ws, "node_modules", "@types"));
    const made = spawnSync(process.execPath, [CLI, "new", "agent", "cli-it-ws"], {
      cwd: ws,
      encoding: "utf8",
    });
    expect(made.status, made.stderr).toBe(0);
    const dir = join(ws, "services", "cli-it-ws");
    // what pnpm install links for the package's dependencies
    linkModules(dir);
    const built = tsc(dir);
    expect(built.status, built.output).toBe(0);
    expect(readFileSync(join(dir, "dist", "bin.js"), "utf8")).toContain("cli-it-ws@fame.fabric");
  });

  it("standalone: builds, passes its own tests, joins the fabric, is called, and a stream is cancelled with Ctrl-C", async () => {
    const dir = join(work, "alone");
    // no tarballs here (the test links the workspace's packages itself): registry dependencies, asked for
    const made = await fame(["new", "agent", "cli-it", "--standalone", dir, "--registry", "--json"]);
    expect(made.code, made.err).toBe(0);
    linkModules(dir);
    link(join(REPO_ROOT, "node_modules", "@types"), join(dir, "node_modules", "@types"));
    link(join(REPO_ROOT, "node_modules", "typescript"), join(dir, "node_modules", "typescript"));
    link(join(REPO_ROOT, "node_modules", "vitest"), join(dir, "node_modules", "vitest"));
    const built = tsc(dir);
    expect(built.status, built.output).toBe(0);
    const tested = spawnSync(process.execPath, [VITEST, "run"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...baseEnv(), CI: "true" },
    });
    expect(tested.status, `${tested.stdout}${tested.stderr}`).toBe(0);
    expect(tested.stdout).toMatch(/3 passed/);

    scaffolded = await startProcess({
      name: "cli-it",
      script: join(dir, "dist", "bin.js"),
      cwd: dir,
      env: { ...stack.nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric" },
      readyLine: /cli-it agent ready/,
      readyTimeoutMs: 30_000,
    });
    const echo = await fame(["call", "cli-it@fame.fabric", "echo", '{"text":"hi"}']);
    expect(echo.code, echo.err).toBe(0);
    expect(JSON.parse(echo.out)).toEqual({ text: "hi", length: 2 });
    const invalid = await fame(["call", "cli-it@fame.fabric", "echo", '{"text":42}']);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/-32602.*text/);
    const ops = await fame(["ops", "cli-it@fame.fabric"]);
    expect(ops.out).toMatch(/^count\s+yes\s+no\s+\{ to: integer, everyMs\?: integer \}/m);

    // a slow stream: Ctrl-C after three items cancels it at the agent and exits 130
    const child = spawn(
      process.execPath,
      [CLI, "stream", "cli-it@fame.fabric", "count", '{"to":100000,"everyMs":20}'],
      { cwd: work, env: cliEnv, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.add(child);
    const lines: string[] = [];
    let err = "";
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        lines.push(line);
        if (lines.length === 3) {
          child.kill("SIGINT");
          resolve();
        }
      });
    });
    expect(await exited).toBe(130);
    children.delete(child);
    expect(lines.slice(0, 3)).toEqual(["1", "2", "3"]);
    expect(lines.length).toBeLessThan(100);
    expect(err).toBe("fame: cancelled\n");
  }, 180_000);
});
