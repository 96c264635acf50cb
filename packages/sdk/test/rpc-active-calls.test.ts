import { describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { Agent } from "../src/agent/remote-proxy.js";
import { LoopbackNetwork } from "../src/rpc/loopback.js";

class SlowAgent extends BaseAgent {
  release: () => void = () => {};
  readonly started: Promise<void>;
  private markStarted: () => void = () => {};
  constructor() {
    super();
    this.started = new Promise((r) => {
      this.markStarted = r;
    });
  }
  async hold(): Promise<string> {
    this.markStarted();
    await new Promise<void>((r) => {
      this.release = r;
    });
    return "done";
  }
}
defineOperation(SlowAgent, "hold");

describe("RpcEndpoint.activeCalls (what a draining replica waits on)", () => {
  it("counts a served call while it runs and drops it once answered", async () => {
    const net = new LoopbackNetwork();
    const caller = net.createEndpoint("caller@node-a");
    const server = net.createEndpoint("server@node-b");
    const agent = new SlowAgent();
    await server.serveAgent("slow@fame.fabric", agent);
    expect(server.activeCalls).toBe(0);
    const remote = Agent.remoteByAddress<{ hold(): Promise<string> }>("slow@fame.fabric", {
      endpoint: caller,
    });
    const call = remote.hold();
    await agent.started;
    expect(server.activeCalls).toBe(1);
    expect(caller.activeCalls).toBe(0);
    agent.release();
    expect(await call).toBe("done");
    // the slot is released right after the answer is handed to the transport
    await expect.poll(() => server.activeCalls).toBe(0);
  });
});
