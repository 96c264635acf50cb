import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type FabricStack,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  startProcess,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOk, packInto, run, userEnv, writeSources } from "./external-project.js";

/**
 * Issue 17's product check, as a new user does it: the packs (`make pack`'s script) installed
 * with npm into an empty project outside the checkout, a TypeScript agent and client compiled
 * there with the installed tsc and run as real processes against a real strict-overlay fabric
 * (OAuth2, Welcome, CA, sentinel; channel encryption). The runtime dependencies come from the
 * npm registry; npm's cache (~/.npm) makes a re-run take seconds.
 */
const NPM_TIMEOUT_MS = 240_000;

let work: string;
let project: string;
let tarballs: string[];
let stack: FabricStack | undefined;
let agent: RunningProcess | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fame-external-"));
  project = join(work, "app");
  mkdirSync(project);
  ({ tarballs } = await packInto(join(work, "packs")));
  expectOk("npm init", await run("npm", ["init", "-y"], { cwd: project, timeoutMs: 60_000 }));
  expectOk(
    "npm pkg set",
    await run("npm", ["pkg", "set", "type=module"], { cwd: project, timeoutMs: 60_000 }),
  );
  const install = expectOk(
    "npm install",
    await run(
      "npm",
      ["install", ...tarballs, "typescript@5.9.3", "@types/node@20", "zod@4", "--no-audit", "--no-fund"],
      { cwd: project, timeoutMs: NPM_TIMEOUT_MS },
    ),
  );
  console.log(`external project: npm install of ${tarballs.length} packs in ${install.ms} ms`);
  writeSources(project);
  expectOk(
    "tsc",
    await run(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
      cwd: project,
      timeoutMs: 120_000,
    }),
  );
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
}, NPM_TIMEOUT_MS + 180_000);

afterAll(async () => {
  await agent?.stop("SIGTERM", 5000);
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * The minimum environment of a node, as docs/writing-agents.md lists it (and `fame env`
 * prints for make start's fabric): nothing else of the test fabric's settings is passed.
 */
const MINIMUM_ENV = [
  "FAME_SECURITY_PROFILE",
  "FAME_ADMISSION_PROFILE",
  "FAME_DEFAULT_ENCRYPTION_LEVEL",
  "FAME_ADMISSION_TOKEN_URL",
  "FAME_ADMISSION_SERVICE_URL",
  "FAME_ADMISSION_CLIENT_ID",
  "FAME_ADMISSION_CLIENT_SECRET",
  "FAME_CA_CERTS",
] as const;
const minimum = (from: Record<string, string>) =>
  Object.fromEntries(MINIMUM_ENV.map((k) => [k, from[k] ?? ""]));
const nodeEnv = () => userEnv({ ...minimum(stack!.nodeEnv), FAME_REQUESTED_LOGICALS: "*.fame.fabric" });
const clientEnv = (extra: Record<string, string> = {}) => userEnv({ ...minimum(stack!.clientEnv), ...extra });

describe("the SDK and CLI installed from the packs, outside the checkout", () => {
  it("packs only built code, manifests and docs, with workspace ranges resolved", () => {
    expect(realpathSync(work).startsWith(realpathSync(REPO_ROOT))).toBe(false);
    const names = tarballs.map((t) => t.slice(t.lastIndexOf("/") + 1));
    expect(names).toEqual(expect.arrayContaining(["fame-sdk-0.1.0.tgz", "fame-protocol-0.1.0.tgz"]));
    for (const tarball of tarballs) {
      const entries = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n");
      expect(entries).toContain("package/package.json");
      for (const entry of entries) {
        expect(entry).toMatch(
          /^package\/(package\.json|(README|LICENSE)(\.md)?|dist\/.+\.(js|d\.ts)|templates\/.+)$/,
        );
        expect(entry).not.toMatch(/\.(map|tsbuildinfo|pem|key|env)$|(^|\/)(run|secrets?)\//);
        // tests ship only as the CLI's templates for `fame new agent`
        if (!entry.startsWith("package/templates/")) expect(entry).not.toMatch(/\.test\.|\/test\//);
      }
      const manifest = execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" });
      expect(manifest).not.toContain("workspace:");
    }
  });

  it("installed the packs' @fame dependencies from the tarballs, the rest from the registry", () => {
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; resolved?: string }>;
    };
    const fame = Object.entries(lock.packages).filter(([path]) => path.includes("node_modules/@fame/"));
    expect(fame.length).toBe(tarballs.length);
    // one copy of each, at the top: every inter-package range was met by a tarball
    for (const [path, entry] of fame) {
      expect(path).toMatch(/^node_modules\/@fame\/[a-z-]+$/);
      expect(entry.resolved).toMatch(/^file:.*\.tgz$/);
    }
    // a registry package (npm leaves `resolved` out of the lock for its default registry)
    const ws = lock.packages["node_modules/ws"];
    expect(ws?.version).toMatch(/^8\./);
    expect(ws?.resolved ?? "https://registry").toMatch(/^https:\/\//);
  });

  it("runs a TypeScript agent and client from the project, over an encrypted channel", async () => {
    agent = await startProcess({
      name: "external-agent",
      script: join(project, "dist", "agent.js"),
      cwd: project,
      env: nodeEnv(),
      readyLine: /echo agent ready/,
      readyTimeoutMs: 30_000,
    });
    const marker = `external-${process.pid}-${Date.now()}`;
    const client = expectOk(
      "client",
      await run(process.execPath, [join(project, "dist", "client.js"), marker], {
        cwd: project,
        env: clientEnv({ FAME_SHOW_ENVELOPES: "1", FAME_LOG_LEVEL: "info", FAME_LOG_PRETTY: "0" }),
        timeoutMs: 30_000,
      }),
    );
    const lines = client.stdout.trim().split("\n");
    const answer = JSON.parse(lines.filter((l) => l.includes('"echoed"')).at(-1) ?? "{}") as Record<
      string,
      unknown
    >;
    expect(answer["echoed"]).toBe(marker);
    expect(answer["stats"]).toMatchObject({ count: 6, sum: 108, min: 4, max: 42 });
    expect(String((answer["stats"] as { caller: string }).caller)).toMatch(/^spiffe:\/\/fame\.fabric\//);
    expect(answer["counted"]).toEqual([1, 2, 3, 4, 5]);
    // the zod schema from the project's own node_modules refused a string, naming where
    expect(answer["invalid"]).toMatchObject({
      code: -32602,
      message: expect.stringContaining("params.values[0]"),
    });
    // the SDK the client ran is the project's, not the checkout's
    expect(String(answer["sdk"])).toContain(pathToFileURL(realpathSync(project)).href);

    // the calls travelled sealed: Data to the agent carries channel encryption, never the text
    const envelopes = lines
      .filter((l) => l.startsWith("{") && l.includes('"msg":"envelope"'))
      .map((l) => JSON.parse(l) as { dir: string; type: string; to?: string; enc?: { alg: string } });
    const sent = envelopes.filter(
      (e) => e.dir === "send" && e.type === "Data" && e.to === "echo@fame.fabric",
    );
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const e of sent) expect(e.enc?.alg).toBe("chacha20-poly1305-channel");
    expect(envelopes.some((e) => e.type === "SecureOpen" && e.to === "echo@fame.fabric")).toBe(true);
    for (const l of lines) if (l.includes('"msg":"envelope"')) expect(l).not.toContain(marker);
  }, 90_000);

  it("calls the agent from a shell with the installed CLI (npx fame)", async () => {
    const fame = (args: string[]) =>
      run("npx", ["--no", "fame", ...args], { cwd: project, env: clientEnv(), timeoutMs: 30_000 });
    const called = expectOk(
      "npx fame call",
      await fame(["call", "echo@fame.fabric", "stats", '{"values":[3,4]}', "--json"]),
    );
    expect(JSON.parse(called.stdout)).toMatchObject({ count: 2, sum: 7, min: 3, max: 4 });
    const ops = expectOk("npx fame ops", await fame(["ops", "echo@fame.fabric", "--json"]));
    const described = JSON.parse(ops.stdout) as {
      operations: { name: string; streaming: boolean; params?: { properties?: object } }[];
    };
    expect(described.operations.map((o) => o.name)).toEqual(["count", "echo", "stats"]);
    expect(described.operations.find((o) => o.name === "count")?.streaming).toBe(true);
    // the zod schema, shown as JSON Schema
    expect(described.operations.find((o) => o.name === "stats")?.params?.properties).toHaveProperty("values");
    const refused = await fame(["call", "echo@fame.fabric", "stats", '{"values":"x"}']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("params.values");
  }, 150_000);

  it("drains and exits 0 on SIGTERM (serve() arranges it)", async () => {
    expect(agent).toBeDefined();
    const code = await agent!.stop("SIGTERM", 15_000);
    expect(code).toBe(0);
    expect(agent!.output()).toMatch(/"msg":"drained"/);
  });
});
