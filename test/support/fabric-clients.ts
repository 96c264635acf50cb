import { Writable } from "node:stream";
import { createLogger, type Logger } from "@fame/logger";
import {
  Agent,
  connectFabric,
  type Fabric,
  nodeConfigFromEnv,
  type Remote,
  type RemoteOptions,
} from "@fame/sdk";
import { type FabricStack, pidAlive, stopAll } from "@fame/testkit";
import { expect } from "vitest";

/** a client logger that keeps test output readable (warnings and worse are dropped too) */
export function quietLogger(): Logger {
  return createLogger({
    name: "it-client",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
}

/** In-process clients of a test's fabric stack, closed together at the end. */
export class TestClients {
  private readonly all: Fabric[] = [];

  constructor(private readonly stack: () => FabricStack) {}

  /** a connected client, not installed as the default endpoint */
  async connect(env: Record<string, string> = {}): Promise<Fabric> {
    const f = await connectFabric({
      config: nodeConfigFromEnv({ ...this.stack().nodeEnv, ...env }),
      logger: quietLogger(),
      installDefault: false,
    });
    this.all.push(f);
    return f;
  }

  /** a connected client and a typed proxy for `address` on it */
  async remote<T>(
    address = "math@fame.fabric",
    options: Omit<RemoteOptions, "endpoint"> = {},
  ): Promise<{ f: Fabric; api: Remote<T> }> {
    const f = await this.connect();
    return { f, api: Agent.remoteByAddress<T>(address, { ...options, endpoint: f.endpoint }) };
  }

  async closeAll(): Promise<void> {
    for (const c of this.all.splice(0)) await c.close();
  }
}

/** Closes the clients, stops every process of the stack and checks by PID that none survived. */
export async function tearDown(stack: FabricStack | undefined, clients: TestClients): Promise<void> {
  await clients.closeAll();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}
