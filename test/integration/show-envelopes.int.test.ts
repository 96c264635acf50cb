import {
  binOf,
  type FabricStack,
  pidAlive,
  REPO_ROOT,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * FAME_SHOW_ENVELOPES: the demo client, run as a process with channel
 * encryption, prints every envelope it sends and receives. Sealed Data shows
 * its channel metadata (sec.enc: alg, cid, seq) and never the plaintext.
 */
let stack: FabricStack;

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
}, 120_000);

afterAll(async () => {
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

interface EnvelopeLine {
  msg: string;
  dir: "send" | "recv";
  type: string;
  enc?: { alg: string; cid: string; seq: number };
  payload?: unknown;
  ct?: string;
  cid?: string;
}

describe("FAME_SHOW_ENVELOPES with channel encryption", () => {
  it("shows sec.enc of sealed Data and never its plaintext", async () => {
    const run = await startProcess({
      name: "math-client",
      script: binOf("services", "math-client"),
      cwd: REPO_ROOT,
      env: { ...stack.nodeEnv, FAME_SHOW_ENVELOPES: "true", FAME_LOG_LEVEL: "info" },
    });
    expect(await run.exited).toBe(0);
    const out = run.output();
    // the calls ran: their results are the client's own output, not envelope lines
    expect(out).toMatch(/add\(3, 4\) = 7/);
    expect(out).toMatch(/fib_stream\(10\) = 0 1 1 2 3 5 8 13 21 34/);

    const lines: EnvelopeLine[] = [];
    for (const text of out.split("\n")) {
      if (!text.startsWith("{")) continue;
      const parsed = JSON.parse(text) as EnvelopeLine;
      if (parsed.msg === "envelope") lines.push(parsed);
    }
    const data = lines.filter((l) => l.type === "Data");
    // add, multiply, fib_stream (request, credits, items, end) and whoami, both ways
    expect(data.filter((l) => l.dir === "send").length).toBeGreaterThanOrEqual(4);
    expect(data.filter((l) => l.dir === "recv").length).toBeGreaterThanOrEqual(4);
    for (const l of data) {
      expect(l.enc).toMatchObject({ alg: "chacha20-poly1305-channel" });
      expect(typeof l.enc?.cid).toBe("string");
      expect(Number.isInteger(l.enc?.seq) && (l.enc?.seq ?? 0) >= 1).toBe(true);
      expect(l).not.toHaveProperty("payload");
      // binary records (the default on both ends) show the ciphertext's size, never its bytes
      expect(l.ct).toMatch(/^\d+ bytes sealed \(binary\)$/);
    }
    // one channel; each direction numbers its records 1, 2, 3, …
    const cids = new Set(data.map((l) => l.enc!.cid));
    expect(cids.size).toBe(1);
    const sentSeqs = data.filter((l) => l.dir === "send").map((l) => l.enc!.seq);
    expect(sentSeqs).toEqual(sentSeqs.map((_, i) => i + 1));
    // the handshake is shown too, for the same cid
    const [cid] = cids;
    expect(lines.some((l) => l.type === "SecureOpen" && l.dir === "send" && l.cid === cid)).toBe(true);
    expect(lines.some((l) => l.type === "SecureAccept" && l.dir === "recv" && l.cid === cid)).toBe(true);

    // nothing of the sealed payloads, nor the node's secrets, appears anywhere in the output
    expect(out).not.toMatch(/"jsonrpc"/);
    expect(out).not.toMatch(/"method":"(add|multiply|fib_stream|whoami)"/);
    expect(out).not.toMatch(/"params"/);
    expect(out).not.toContain(stack.nodeEnv["FAME_ADMISSION_CLIENT_SECRET"]!);
  }, 60_000);
});
