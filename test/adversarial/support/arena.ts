import { stopAll } from "@fame/testkit";
import { expect } from "vitest";
import { Attacker } from "./attacker.js";
import { LegitTraffic } from "./legit-traffic.js";
import { type LoneSentinel, startLoneSentinel } from "./lone-sentinel.js";

type AttachFrame = Parameters<Attacker["attach"]>[0];

/**
 * Where an attack file runs: a lone sentinel (open profile) with one math replica, a
 * legitimate client shown to work before any attack, and hostile nodes on demand, each from
 * its own loopback address. close() ends all of it, processes by PID.
 */
export class Arena {
  private readonly attackers: Attacker[] = [];

  private constructor(
    readonly sentinel: LoneSentinel,
    readonly legit: LegitTraffic,
  ) {}

  static async open(env: Record<string, string>): Promise<Arena> {
    const sentinel = await startLoneSentinel({ env });
    try {
      await sentinel.startReplica("r1");
      const legit = await LegitTraffic.connect(sentinel.nodeEnv);
      await legit.callOnce();
      expect((await legit.stop()).failures).toEqual([]);
      return new Arena(sentinel, legit);
    } catch (err) {
      await sentinel.stop();
      throw err;
    }
  }

  /** a connection from `localAddress`, not attached yet */
  async connect(localAddress: string): Promise<Attacker> {
    const a = await Attacker.connect({
      url: this.sentinel.attachUrl,
      ca: this.sentinel.trustBundle,
      localAddress,
    });
    this.attackers.push(a);
    return a;
  }

  /** an admitted hostile node from `localAddress` */
  async hostile(localAddress: string, frame: AttachFrame): Promise<Attacker> {
    const a = await this.connect(localAddress);
    expect((await a.attach(frame)).ok).toBe(true);
    return a;
  }

  async close(): Promise<void> {
    for (const a of this.attackers) await a.close();
    await this.legit.close();
    await this.sentinel.stop();
    await stopAll();
  }
}
