import { describe, expect, it } from "vitest";
import { recordingLogger } from "./shared-state-helpers.js";
import { attachNode, makeSentinel } from "./test-node.js";

/**
 * Frames an insider can send in a loop at no cost to itself must not each become a log line
 * (or a cluster write): they are counted exactly, logged the first times and then one in 100.
 */

const FRAMES = 300;
/** LogThrottle's defaults: the first 5, then every 100th */
const MAX_LINES = 5 + Math.floor(FRAMES / 100);

describe("log lines an insider's frames can cause", () => {
  it("refused binds: every one answered and counted, a handful logged", async () => {
    const { log, lines } = recordingLogger();
    const s = makeSentinel("open", undefined, 4, "round_robin", {}, log);
    const c = await attachNode(s, "c", [], "open");
    for (let i = 0; i < FRAMES; i++)
      await c.send({ frame: { type: "AddressBind", address: `x${i}@fame.fabric` } });
    expect(
      c.link.frames("AddressBindAck").filter((e) => (e.frame as { ok: boolean }).ok === false),
    ).toHaveLength(FRAMES);
    expect(s.counters.bindRefused).toBe(FRAMES);
    const logged = lines.filter((l) => l.msg === "bind refused").length;
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThanOrEqual(MAX_LINES);
  });

  it("a rebind in a loop: answered each time, logged once", async () => {
    const { log, lines } = recordingLogger();
    const s = makeSentinel("open", undefined, 4, "round_robin", {}, log);
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    for (let i = 0; i < FRAMES; i++)
      await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    expect(r.link.frames("AddressBindAck").filter((e) => (e.frame as { ok: boolean }).ok)).toHaveLength(
      FRAMES,
    );
    expect(lines.filter((l) => l.msg === "bound")).toHaveLength(1);
  });

  it("frames for a node that stopped reading: dropped and counted, a handful logged", async () => {
    const { log, lines } = recordingLogger();
    const s = makeSentinel("open", undefined, 4, "round_robin", {}, log);
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const sent = r.link.sent.length;
    // 16 MiB not yet read: every answer to it is dropped from now on
    r.link.bufferedAmount = 17 * 1024 * 1024;
    for (let i = 0; i < FRAMES; i++)
      await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    expect(r.link.sent.length).toBe(sent);
    expect(s.counters.slowReaderDropped).toBe(FRAMES);
    const logged = lines.filter((l) => l.msg === "peer not reading: frame dropped").length;
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThanOrEqual(MAX_LINES);
  });
});
