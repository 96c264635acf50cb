import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@fame/testkit";

/**
 * A user's project outside the checkout: the packs installed from npm, a TypeScript agent
 * and client compiled with the installed tsc. What the test writes here is what
 * docs/writing-agents.md tells a user to write.
 */

export interface RunResult {
  code: number | string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The environment for npm and the project's processes: this process's, without the
 * npm and pnpm settings that `pnpm exec` leaves behind for its own children (they would
 * configure the user's npm as if it were pnpm). Registry, cache and proxies stay.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|proxy|https_proxy|noproxy|strict_ssl|cafile|userconfig)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|INIT_CWD$|FAME_)/i.test(k) && !keep.test(k)) continue;
    env[k] = v;
  }
  return { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", ...extra };
}

/** Runs a command to its end, bounded; output captured (never inherited). */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? userEnv(),
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
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.once("error", (err) => {
      stderr += `\n${err.message}`;
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Throws with the command's output when it did not exit 0. */
export function expectOk(what: string, r: RunResult): RunResult {
  if (r.code !== 0) {
    throw new Error(
      `${what} failed (exit ${r.code} after ${r.ms} ms)\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}

/** `make pack`'s script (the build is make test's), into `dir`; the tarballs written. */
export async function packInto(dir: string): Promise<{ tarballs: string[]; output: string }> {
  const r = expectOk(
    "node scripts/pack.mjs",
    await run(process.execPath, [join(REPO_ROOT, "scripts", "pack.mjs"), "--out", dir], {
      cwd: REPO_ROOT,
      timeoutMs: 120_000,
    }),
  );
  const tarballs = readdirSync(dir)
    .filter((f) => f.endsWith(".tgz"))
    .sort()
    .map((f) => join(dir, f));
  return { tarballs, output: r.stdout };
}

/**
 * A standalone tsconfig: ESM for Node 20 and TC39 standard decorators (TypeScript ≥ 5.2),
 * which `@operation()` is; `experimentalDecorators` (the legacy kind) must stay off.
 */
export const STANDALONE_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2023"],
    types: ["node"],
    strict: true,
    experimentalDecorators: false,
    skipLibCheck: true,
    rootDir: "src",
    outDir: "dist",
  },
  include: ["src"],
};

const ECHO_AGENT = `import { BaseAgent, type CallContext, operation } from "@fame/sdk";
import { z } from "zod";

const Values = z.object({ values: z.array(z.number()).min(1).max(10_000) });

/** echo@fame.fabric: an agent written against the installed SDK. */
export class EchoAgent extends BaseAgent {
  @operation({ idempotent: true })
  async echo({ text }: { text: string }): Promise<string> {
    return text;
  }

  @operation({ params: Values, description: "count, sum, min and max of a list of numbers" })
  async stats({ values }: z.output<typeof Values>, ctx: CallContext) {
    return {
      count: values.length,
      sum: values.reduce((a, b) => a + b, 0),
      min: Math.min(...values),
      max: Math.max(...values),
      caller: ctx.caller.spiffeId ?? ctx.caller.sid,
    };
  }

  @operation({ streaming: true })
  async *count({ n }: { n: number }): AsyncGenerator<number> {
    for (let i = 1; i <= n; i++) yield i;
  }
}
`;

const AGENT_MAIN = `import { connectFabric } from "@fame/sdk";
import { EchoAgent } from "./echo-agent.js";

const fabric = await connectFabric({ name: "echo-agent" });
await new EchoAgent().serve("echo@fame.fabric");
console.log(\`echo agent ready at \${fabric.connection.path}\`);
`;

const CLIENT = `import { Agent, RpcError, withFabric } from "@fame/sdk";
import type { EchoAgent } from "./echo-agent.js";

const text = process.argv[2] ?? "hello";
const result = await withFabric(async () => {
  const echo = Agent.remoteByAddress<EchoAgent>("echo@fame.fabric");
  const echoed = await echo.echo({ text });
  const stats = await echo.stats({ values: [4, 8, 15, 16, 23, 42] });
  const counted: number[] = [];
  for await (const n of await echo.count({ n: 5 })) counted.push(n);
  const refused = await echo.stats({ values: ["x" as unknown as number] }).catch((e: unknown) => e);
  const invalid = refused instanceof RpcError ? { code: refused.code, message: refused.message } : String(refused);
  return { echoed, stats, counted, invalid };
});
console.log(JSON.stringify({ ...result, sdk: import.meta.resolve("@fame/sdk") }));
`;

/** The agent (class + main) and the client, with the standalone tsconfig. */
export function writeSources(project: string): void {
  mkdirSync(join(project, "src"), { recursive: true });
  // The docs' tsconfig skips the libraries' declarations (a faster build); this project checks
  // them, so a pack whose declarations need more than its own dependencies fails here.
  const strict = {
    ...STANDALONE_TSCONFIG,
    compilerOptions: { ...STANDALONE_TSCONFIG.compilerOptions, skipLibCheck: false },
  };
  writeFileSync(join(project, "tsconfig.json"), `${JSON.stringify(strict, null, 2)}\n`);
  writeFileSync(join(project, "src", "echo-agent.ts"), ECHO_AGENT);
  writeFileSync(join(project, "src", "agent.ts"), AGENT_MAIN);
  writeFileSync(join(project, "src", "client.ts"), CLIENT);
}
