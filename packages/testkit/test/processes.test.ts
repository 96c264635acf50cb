import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pidAlive, startProcess, stopAll } from "@fame/testkit";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "fame-testkit-"));
const script = join(dir, "child.mjs");
writeFileSync(
  script,
  `process.on("SIGTERM", () => { console.log("bye"); process.exit(0); });
console.log("ready " + process.pid);
setInterval(() => {}, 1000);`,
);
afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("startProcess", () => {
  it("waits for a ready line and stops by PID", async () => {
    const p = await startProcess({ name: "child", script, readyLine: /ready \d+/ });
    expect(pidAlive(p.pid)).toBe(true);
    expect(await p.stop("SIGTERM")).toBe(0);
    expect(p.output()).toContain("bye");
    expect(pidAlive(p.pid)).toBe(false);
  });

  it("reports SIGKILL as the signal name", async () => {
    const p = await startProcess({ name: "child", script, readyLine: /ready/ });
    expect(await p.stop("SIGKILL")).toBe("SIGKILL");
  });

  it("fails clearly when the process dies before it is ready", async () => {
    const bad = join(dir, "bad.mjs");
    writeFileSync(bad, `console.error("no config"); process.exit(2);`);
    await expect(startProcess({ name: "bad", script: bad, readyLine: /ready/ })).rejects.toThrow(
      /exited before printing[\s\S]*no config/,
    );
  });
});
