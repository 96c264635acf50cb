import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT, type RunningProcess, startProcess, stopAll } from "@fame/testkit";
import { afterAll, describe, expect, it } from "vitest";

/**
 * runMain's forced exit follows the service's own close bound: a service that
 * drains for longer than the 10 s default is not cut short, and a close that
 * hangs past its bound still ends the process (exit 1). Runs the built dist/.
 */
const dir = mkdtempSync(join(tmpdir(), "fame-run-main-"));
const entry = pathToFileURL(join(REPO_ROOT, "packages", "http-service", "dist", "main.js")).href;

function serviceScript(name: string, closeMs: number | "never", closeTimeoutMs: number, startMs = 0): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import { runMain } from ${JSON.stringify(entry)};
runMain(async () => {
  const keepAlive = setInterval(() => {}, 1000);
  console.log("service starting");
  await new Promise((resolve) => setTimeout(resolve, ${startMs}));
  console.log("service ready");
  return {
    closeTimeoutMs: ${closeTimeoutMs},
    close: () => new Promise((resolve) => {
      ${closeMs === "never" ? "" : `setTimeout(() => { clearInterval(keepAlive); console.log("closed"); resolve(); }, ${closeMs});`}
    }),
  };
}, ${JSON.stringify(name)});
`,
  );
  return file;
}

const start = (name: string, script: string): Promise<RunningProcess> =>
  startProcess({ name, script, readyLine: /service ready/, readyTimeoutMs: 15_000 });

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("runMain start-up failures", () => {
  it("reports a bad setting, the log level included, plainly with exit 2", async () => {
    const logger = pathToFileURL(join(REPO_ROOT, "packages", "logger", "dist", "index.js")).href;
    const file = join(dir, "bad-level.mjs");
    writeFileSync(
      file,
      `import { runMain } from ${JSON.stringify(entry)};
import { createLogger } from ${JSON.stringify(logger)};
runMain(async () => {
  createLogger({ name: "bad-level", env: { FAME_LOG_LEVEL: "loud" } });
  return { close: async () => {} };
}, "bad-level");
`,
    );
    const bad = await startProcess({ name: "bad-level", script: file });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/bad-level: invalid setting FAME_LOG_LEVEL: must be one of/);
    expect(bad.output()).not.toMatch(/failed to start|\n\s+at /);
  });
});

describe("runMain close bound", () => {
  it("lets a close longer than the 10 s default finish when the service sets a longer bound, and forces one that hangs past its bound", async () => {
    const slow = await start("slow-drain", serviceScript("slow-drain", 11_000, 20_000));
    const hung = await start("hung-close", serviceScript("hung-close", "never", 300));
    slow.child.kill("SIGTERM");
    hung.child.kill("SIGTERM");
    const [slowExit, hungExit] = await Promise.all([slow.exited, hung.exited]);
    expect(slowExit).toBe(0);
    expect(slow.output()).toMatch(/closed/);
    expect(hungExit).toBe(1);
    expect(hung.output()).toMatch(/close did not finish within 300 ms, forcing exit/);
  }, 40_000);

  it("gives a SIGTERM that arrives during start-up the service's own close bound once it is up", async () => {
    const script = serviceScript("late-drain", 11_000, 20_000, 1000);
    const late = await startProcess({ name: "late-drain", script, readyLine: /service starting/ });
    late.child.kill("SIGTERM");
    expect(await late.exited).toBe(0);
    expect(late.output()).toMatch(/closed/);
  }, 40_000);
});
