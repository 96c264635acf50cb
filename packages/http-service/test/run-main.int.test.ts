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
const entry = pathToFileURL(join(REPO_ROOT, "packages", "http-service", "dist", "index.js")).href;

function serviceScript(name: string, closeMs: number | "never", closeTimeoutMs: number): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import { runMain } from ${JSON.stringify(entry)};
runMain(async () => {
  const keepAlive = setInterval(() => {}, 1000);
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
});
