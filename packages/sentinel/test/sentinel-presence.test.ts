import { SentinelPresence } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { quiet } from "./affinity-helpers.js";
import { clusterState, MemoryHub, until } from "./shared-state-helpers.js";

const URL_A = "wss://127.0.0.1:8001/fame/v1/attach/ws/downstream";

describe("a cluster sentinel's entry in the sentinel registry", () => {
  it("advertises its public URL and node count, follows the count, and withdraws at stop", async () => {
    const hub = new MemoryHub();
    const mine = clusterState(hub);
    const welcomeView = clusterState(hub).fabric.registry;
    let nodes = 0;
    const presence = new SentinelPresence({
      registry: mine.fabric.registry,
      sentinelId: "sa",
      publicUrl: URL_A,
      nodes: () => nodes,
      log: quiet,
      everyMs: 20,
    });
    await presence.start();
    expect(welcomeView.live()).toMatchObject([{ sentinelId: "sa", publicUrl: URL_A, nodes: 0 }]);
    nodes = 3;
    await until(() => welcomeView.get("sa")?.nodes === 3);
    await presence.stop();
    expect(welcomeView.get("sa")).toBeUndefined();
    expect(welcomeView.live()).toEqual([]);
  });

  it("a failed advert is tried again at the next look, once the registry records writes", async () => {
    const hub = new MemoryHub();
    const mine = clusterState(hub);
    const welcomeView = clusterState(hub).fabric.registry;
    mine.partition();
    const presence = new SentinelPresence({
      registry: mine.fabric.registry,
      sentinelId: "sb",
      publicUrl: URL_A,
      nodes: () => 1,
      log: quiet,
      everyMs: 20,
    });
    await presence.start();
    expect(welcomeView.get("sb")).toBeUndefined();
    mine.heal();
    await until(() => welcomeView.get("sb")?.nodes === 1);
    await presence.stop();
  });
});
