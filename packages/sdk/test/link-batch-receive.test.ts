/** FabricConnection and link batches: it offers them at attach and takes them entry by entry. */
import { encodeEnvelope, makeEnvelope } from "@fame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { type ConnectionEvents, FabricConnection } from "../src/connection/fabric-connection.js";
import { NodeSigner } from "../src/connection/node-signer.js";
import { PeerKeyDirectory } from "../src/connection/peer-keys.js";
import { FakeSentinel, quietLogger, SENTINEL_SID } from "./support/fake-sentinel.js";

const live: FabricConnection[] = [];
afterEach(async () => {
  for (const c of live.splice(0)) await c.close();
});

function connection(sentinel: FakeSentinel, name: string, events: ConnectionEvents, linkBatch?: boolean) {
  const c = new FabricConnection(
    {
      securityProfile: "open",
      plan: async () => ({
        url: "wss://fake-sentinel/attach",
        systemId: name,
        instanceId: `inst_${name}`,
        logicals: [],
        signer: NodeSigner.generate(),
      }),
      peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
      log: quietLogger(),
      controlTimeoutMs: 1000,
      ...(linkBatch === undefined ? {} : { linkBatch }),
    },
    events,
    sentinel.dialer(name),
  );
  live.push(c);
  return c;
}

const data = (to: string, i: number) =>
  encodeEnvelope(
    makeEnvelope({
      sid: SENTINEL_SID,
      to,
      corrId: `c${i}`,
      frame: { type: "Data", codec: "json", payload: i },
    }),
  );

describe("FabricConnection: link batches", () => {
  it("offers link-batch at attach and delivers each good entry, dropping a bad one alone", async () => {
    const sentinel = new FakeSentinel();
    const got: unknown[] = [];
    const c = connection(sentinel, "n1", { onEnvelope: (e) => got.push(e.frame), onDisconnected() {} });
    await c.start();
    const offered = sentinel.sent("n1", "NodeAttach")[0]!.frame as { capabilities?: string[] };
    expect(offered.capabilities).toContain("link-batch");
    const to = `rpc@${c.path}`;
    const bad = data(to, 9).replace(/"ts":\d+/, '"ts":-1');
    sentinel.node("n1").link.deliver(`[${data(to, 1)},${bad},${data(to, 2)}]`);
    await expect.poll(() => got.length).toBe(2);
    expect(got).toEqual([
      { type: "Data", codec: "json", payload: 1 },
      { type: "Data", codec: "json", payload: 2 },
    ]);
    // a malformed batch is dropped whole; a lone envelope after it still arrives
    sentinel.node("n1").link.deliver(`[${data(to, 3)},[${data(to, 4)}]]`);
    sentinel.node("n1").link.deliver(data(to, 5));
    await expect.poll(() => got.length).toBe(3);
    expect(got[2]).toMatchObject({ payload: 5 });
  });

  it("with FAME_LINK_BATCH off, offers nothing and drops batches", async () => {
    const sentinel = new FakeSentinel();
    const got: unknown[] = [];
    const c = connection(
      sentinel,
      "n2",
      { onEnvelope: (e) => got.push(e.frame), onDisconnected() {} },
      false,
    );
    await c.start();
    const offered = sentinel.sent("n2", "NodeAttach")[0]!.frame as { capabilities?: string[] };
    expect(offered.capabilities ?? []).not.toContain("link-batch");
    const to = `rpc@${c.path}`;
    sentinel.node("n2").link.deliver(`[${data(to, 1)},${data(to, 2)}]`);
    sentinel.node("n2").link.deliver(data(to, 3));
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]).toMatchObject({ payload: 3 });
  });
});
