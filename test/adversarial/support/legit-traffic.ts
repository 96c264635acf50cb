import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { expect } from "vitest";
import { quietLogger } from "../../support/fabric-clients.js";

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
}

export interface TrafficReport {
  calls: number;
  ok: number;
  failures: string[];
}

/**
 * A well-behaved client that keeps calling math@fame.fabric while an attack
 * runs: other clients must not notice the attack, so every call has to succeed.
 */
export class LegitTraffic {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly report: TrafficReport = { calls: 0, ok: 0, failures: [] };

  private constructor(readonly fabric: Fabric) {}

  static async connect(nodeEnv: Record<string, string>): Promise<LegitTraffic> {
    const fabric = await connectFabric({
      config: nodeConfigFromEnv(nodeEnv),
      logger: quietLogger(),
      installDefault: false,
    });
    return new LegitTraffic(fabric);
  }

  get math(): MathApi {
    return Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: this.fabric.endpoint });
  }

  /** one call, counted like the background ones */
  async callOnce(): Promise<void> {
    const x = this.report.calls++;
    try {
      const sum = await this.math.add({ x, y: 1 });
      if (sum === x + 1) this.report.ok++;
      else this.report.failures.push(`call ${x}: wrong answer ${sum}`);
    } catch (err) {
      this.report.failures.push(`call ${x}: ${(err as Error).message}`);
    }
  }

  /** calls back to back (with a short pause, to leave the box to the attack) until stop() */
  start(pauseMs = 20): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.callOnce();
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  }

  /** stops the loop; resolves with what happened since the start */
  async stop(): Promise<TrafficReport> {
    this.running = false;
    await this.loop;
    this.loop = undefined;
    const out = { ...this.report, failures: [...this.report.failures] };
    this.report.calls = 0;
    this.report.ok = 0;
    this.report.failures = [];
    return out;
  }

  /** runs `attack` while calling in the background; every one of those calls must succeed */
  async during(attack: () => Promise<void>): Promise<void> {
    this.start();
    try {
      await attack();
    } finally {
      const report = await this.stop();
      expect(report.failures).toEqual([]);
      expect(report.calls).toBeGreaterThan(0);
    }
  }

  close(): Promise<void> {
    this.running = false;
    return this.fabric.close();
  }
}
