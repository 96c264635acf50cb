import {
  binOf,
  type FabricStack,
  freePort,
  pidAlive,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `fame traces` as a user runs it (make traces): a process of its own, the sentinel and a
 * replica exporting to it, the demo client calling; the call's path drawn as one tree.
 */

let stack: FabricStack;
let traces: RunningProcess;
let otel: Record<string, string>;

beforeAll(async () => {
  const port = await freePort();
  traces = await startProcess({
    name: "fame-traces",
    script: binOf("packages", "cli"),
    args: ["traces", "--listen", `127.0.0.1:${port}`, "--quiet", "300"],
    cwd: REPO_ROOT,
    readyLine: /listening on http:\/\/127\.0\.0\.1:\d+/,
    readyTimeoutMs: 20_000,
  });
  // export quickly: the test waits on the tree being drawn, not on a timer
  otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: "50" };
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: otel,
  });
  await stack.startReplica("replica1", otel);
}, 120_000);

afterAll(async () => {
  const pids = [...(stack?.allPids() ?? []), ...(traces ? [traces.pid] : [])];
  await stack?.stop();
  await traces?.stop("SIGINT", 5000);
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("fame traces", () => {
  it("draws a call's path through client, sentinel and replica as one tree", async () => {
    const client = await startProcess({
      name: "math-client",
      script: binOf("services", "math-client"),
      cwd: REPO_ROOT,
      env: { ...stack.nodeEnv, ...otel, OTEL_SERVICE_NAME: "traced-client" },
    });
    expect(await client.exited, client.output()).toBe(0);
    // each call's trace: the client's span, and under it the sentinel's route and the replica's
    // serve (both children of the call: the context travels inside the sealed record)
    await traces.waitForOutput(
      /^trace [0-9a-f]{32} · 3 spans.*\n {2}fame\.call whoami +traced-client[^\n]*\n {4}fame\.route +fame-sentinel[^\n]*\n {4}fame\.serve whoami +replica1 /m,
      30_000,
    );
    expect(await traces.stop("SIGINT", 5000)).toBe(0);
    expect(traces.output()).toMatch(/fame traces: \d+ traces, \d+ spans\n/);
  }, 60_000);
});
