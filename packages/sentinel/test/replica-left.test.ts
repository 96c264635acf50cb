import { describe, expect, it } from "vitest";
import { attachNode, makeSentinel } from "./test-node.js";

const MATH = "math@fame.fabric";

describe("a replica that leaves with calls in flight", () => {
  it("fails them with replica_unavailable, naming the replica by id and by the name status shows", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open", undefined, [], undefined, "text-2");
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    const c = await attachNode(s, "c", [], "open");
    await c.send({
      to: MATH,
      replyTo: `rpc@${c.session.path}`,
      corrId: "call-1",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: 1, method: "add" } },
    });
    s.close(r.session, "socket closed (1006)");
    const nack = c.link.frames("DeliveryAck").at(-1)?.frame as { code?: string; reason?: string } | undefined;
    expect(nack?.code).toBe("replica_unavailable");
    expect(nack?.reason).toBe(`replica ${r.session.systemId} (text-2) left (socket closed (1006))`);
  });
});
