import { randomBytes } from "node:crypto";
import { createLogger } from "@fame/logger";
import { type NatsServer, startNatsServer } from "@fame/testkit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FabricState, openFabricState } from "../src/index.js";
import { nodeRecord, settingsFor } from "./nats-helpers.js";

const log = createLogger({ name: "state-sizes", level: "silent" });
const PINS = 2000;
const NODES = 200;

/** realistic ids: sids, systemIds and cids are 22 characters (base62 hash / 128 random bits) */
const id22 = () => randomBytes(16).toString("base64url").slice(0, 22);

describe("what the shared state stores per key (docs/scaling.md)", () => {
  let server: NatsServer;
  let state: FabricState;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    state = await openFabricState(settingsFor(server.url, 1, "sizes"), log, { name: "sizes" });
  });

  afterAll(async () => {
    await state?.close();
    await server?.stop();
  });

  it("refuses a record over the bucket's value limit as a rejected write, which its refresh survives", async () => {
    const r = nodeRecord(id22(), "sentinel-1");
    // addresses enough to pass the directory's 128 KiB value limit
    r.addresses = Array.from({ length: 600 }, (_, i) => `${"a".repeat(200)}${i}@fame.fabric`);
    await expect(state.directory.announce(r)).rejects.toThrow(/over \d+/);
    // what is refused is not thrown at the caller: a write of it is a rejected promise
    const put = state.directory.update(r.systemId, { draining: true });
    await expect(put).rejects.toThrow(/over \d+/);
    // the directory's periodic refresh rewrites it from a timer: it must not throw there
    const refresh = (state.directory as unknown as { refresh?: () => void }).refresh;
    expect(typeof refresh).toBe("function");
    expect(() => refresh!.call(state.directory)).not.toThrow();
  });

  it("measures stream bytes per pin and per node record", async () => {
    const exp = Date.now() + 3600_000;
    for (let i = 0; i < PINS; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          state.pins.put(id22(), id22(), { replicaSystemId: id22(), replicaSid: id22(), exp }),
        ),
      );
    }
    for (let i = 0; i < NODES; i++) {
      const r = nodeRecord(id22(), "sentinel-1");
      // a node's signing key with its chain: leaf (~520 B DER) and intermediate (~413 B DER)
      r.keys = [
        {
          kty: "OKP",
          crv: "Ed25519",
          x: randomBytes(32).toString("base64url"),
          kid: id22(),
          use: "sig",
          x5c: [randomBytes(520).toString("base64"), randomBytes(413).toString("base64")],
        },
      ];
      r.sid = id22();
      r.path = `/fabric/${r.systemId}`;
      await state.directory.announce(r);
    }
    const nc = await connect({ servers: [server.url] });
    try {
      const kvm = new Kvm(jetstream(nc));
      const pins = await (await kvm.open("fame_sizes_pins")).status();
      const nodes = await (await kvm.open("fame_sizes_nodes")).status();
      const perPin = Math.round(pins.size / pins.values);
      const perNode = Math.round(nodes.size / nodes.values);
      console.log(`shared state sizes: pin ${perPin} B/key, node record ${perNode} B/key in the stream`);
      expect(pins.values).toBe(PINS);
      expect(nodes.values).toBe(NODES);
      expect(perPin).toBeLessThan(400);
      expect(perNode).toBeLessThan(3000);
    } finally {
      await nc.close();
    }
  });
});
