import { describe, expect, it } from "vitest";
import { NodeSession } from "../src/node-session.js";
import { FakeLink } from "./fake-link.js";
import { attachNode, makeSentinel } from "./test-node.js";

/** What an attached idle node keeps on the sentinel: only what it uses. */
describe("node session: per-connection state made when first needed", () => {
  it("makes a connection's log throttles at first use and keeps counting on the same one", () => {
    const session = new NodeSession("c1", new FakeLink(), 0);
    const bad = session.badFrameLog;
    expect(session.badFrameLog).toBe(bad);
    const logged = Array.from({ length: 200 }, () => session.badFrameLog.hit()).filter(Boolean).length;
    // the first five, then one in every hundred (the 100th and the 200th)
    expect(logged).toBe(7);
    expect(session.badFrameLog.total).toBe(200);
    expect(session.refusalLog).not.toBe(bad);
    expect(session.refusalLog.total).toBe(0);
  });

  it("counts a bad frame on the connection that sent it", async () => {
    const s = makeSentinel("overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await s.receive(c.session, "{not json");
    expect(c.session.badFrameLog.total).toBe(1);
  });

  it("drops the attach timer once the node is attached", async () => {
    const s = makeSentinel("overlay");
    const c = await attachNode(s, "c", [], "overlay");
    expect(c.session.state).toBe("attached");
    expect(c.session.attachTimer).toBeUndefined();
  });
});
