import { readdirSync, readFileSync } from "node:fs";
import { createLogger } from "@fame/logger";
import { type NatsServer, startNatsServer } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FabricState, openFabricState, type StateStatus, StateUnavailableError } from "../src/index.js";
import { nodeRecord, settingsFor, untilChange, untilRecovered, untilStatus } from "./nats-helpers.js";

/** SIGSTOP takes effect asynchronously: wait until the kernel shows every thread stopped */
async function untilStopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const tasks = readdirSync(`/proc/${pid}/task`);
    const stopped = tasks.every((t) => {
      const ts = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      return /\) [Tt] /.test(ts);
    });
    if (/\) [Tt] /.test(stat) && stopped) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

const log = createLogger({ name: "state-int", level: process.env["FAME_TEST_LOG"] ? "debug" : "silent" });

describe("shared state on one real nats-server", () => {
  let server: NatsServer;
  let a: FabricState;
  let b: FabricState;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    a = await openFabricState(settingsFor(server.url), log, { name: "state-a", timeoutMs: 1000 });
    b = await openFabricState(settingsFor(server.url), log, { name: "state-b", timeoutMs: 1000 });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  it("two states see each other's pins, directory records, sessions and adverts by watch", async () => {
    expect(a.profile).toBe("nats");
    expect(a.status.state).toBe("ok");
    const pinSeen = untilChange((cb) => b.pins.onChange((c, cid, p) => p && cb(`${c}|${cid}`)));
    const exp = Date.now() + 60_000;
    await a.pins.put("client sid/1", "cid.with dots", { replicaSystemId: "r1", replicaSid: "rs1", exp });
    expect(await pinSeen).toBe("client sid/1|cid.with dots");
    expect(b.pins.get("client sid/1", "cid.with dots")).toEqual({
      replicaSystemId: "r1",
      replicaSid: "rs1",
      exp,
    });

    const nodeSeen = untilChange((cb) => a.directory.onChange((id, r) => r && cb(id)));
    await b.directory.announce(nodeRecord("n1", "s-b"));
    expect(await nodeSeen).toBe("n1");
    expect(a.directory.bySid("sid-n1")?.sentinelId).toBe("s-b");
    expect(a.directory.membersOf("math@fame.fabric").map((r) => r.systemId)).toEqual(["n1"]);
    expect(a.directory.get("n1")?.keys[0]?.x5c).toEqual(["MIIBcert"]);

    const sessionSeen = untilChange((cb) => b.sessions.onChange((id, p) => p && cb(id)));
    const placed = await a.sessions.place("sess-1", { replicaSystemId: "r1", owner: "o", lastSeen: 1 });
    expect(await sessionSeen).toBe("sess-1");
    expect(await b.sessions.place("sess-1", { replicaSystemId: "r2", owner: "o", lastSeen: 2 })).toEqual(
      placed,
    );

    const advertSeen = untilChange((cb) => b.registry.onChange((id, r) => r && cb(id)));
    await a.registry.advertise({ sentinelId: "s-a", publicUrl: "wss://127.0.0.1:1/fame", nodes: 2 });
    expect(await advertSeen).toBe("s-a");
    expect(b.registry.live().map((r) => r.publicUrl)).toEqual(["wss://127.0.0.1:1/fame"]);

    const gone = untilChange((cb) => b.pins.onChange((_c, _cid, p) => p === undefined && cb("deleted")));
    await a.pins.delete("client sid/1", "cid.with dots");
    expect(await gone).toBe("deleted");
    expect(b.pins.get("client sid/1", "cid.with dots")).toBeUndefined();
    expect(await b.directory.withdraw("n1", "n1-i1")).toBe(true);
    await a.registry.withdraw("s-a");
  });

  it("a state opened later starts with the current values", async () => {
    await a.pins.put("c-late", "x", { replicaSystemId: "r9", replicaSid: "rs9", exp: Date.now() + 60_000 });
    const c = await openFabricState(settingsFor(server.url), log, { name: "state-c" });
    try {
      expect(c.pins.get("c-late", "x")?.replicaSystemId).toBe("r9");
    } finally {
      await c.close();
    }
  });

  it("a ticket spent through one is refused through the other", async () => {
    const exp = Date.now() + 120_000;
    expect(await a.tickets.spend("jti-1", exp)).toBe(true);
    expect(await b.tickets.spend("jti-1", exp)).toBe(false);
    const racing = await Promise.all([a.tickets.spend("jti-2", exp), b.tickets.spend("jti-2", exp)]);
    expect(racing.filter(Boolean)).toHaveLength(1);
  });

  it("election: racing claimants get exactly one holder; a silent holder is taken over after its lease", async () => {
    const [x, y] = await Promise.all([
      a.elections.claim("single@fame.fabric", { holder: "r-a", sentinelId: "s-a", leaseMs: 1500 }),
      b.elections.claim("single@fame.fabric", { holder: "r-b", sentinelId: "s-b", leaseMs: 1500 }),
    ]);
    expect(x).toEqual(y);
    const winner = x.holder === "r-a" ? a : b;
    const loser = winner === a ? b : a;
    const loserId = winner === a ? "r-b" : "r-a";
    expect(await winner.elections.renew("single@fame.fabric", x.holder, 1500)).toBeDefined();
    expect(
      (await loser.elections.claim("single@fame.fabric", { holder: loserId, sentinelId: "s" })).holder,
    ).toBe(x.holder);
    // the holder stops renewing: the lease ends, the other takes over
    const ended = untilChange((cb) =>
      loser.elections.onChange((_p, r) => r?.holder === loserId && cb(r.epoch)),
    );
    const deadline = Date.now() + 5000;
    let taken = await loser.elections.claim("single@fame.fabric", {
      holder: loserId,
      sentinelId: "s",
      leaseMs: 1500,
    });
    while (taken.holder !== loserId && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.max(10, taken.expiresAt - Date.now() + 10)));
      taken = await loser.elections.claim("single@fame.fabric", {
        holder: loserId,
        sentinelId: "s",
        leaseMs: 1500,
      });
    }
    expect(taken.holder).toBe(loserId);
    expect(taken.epoch).toBe(x.epoch + 1);
    expect(await ended).toBe(taken.epoch);
    expect(loser.elections.current("single@fame.fabric")?.holder).toBe(loserId);
    expect(await winner.elections.renew("single@fame.fabric", x.holder)).toBeUndefined();
  });

  it("a server that hangs (SIGSTOP): a write times out into StateUnavailableError, and the state recovers after SIGCONT", async () => {
    const pid = server.pid;
    if (pid === undefined) throw new Error("nats-server not running");
    const recovered = untilRecovered(a);
    process.kill(pid, "SIGSTOP");
    try {
      await untilStopped(pid);
      const t0 = Date.now();
      const err = await a.sessions
        .put("hung", { replicaSystemId: "r", owner: "o", lastSeen: 1 })
        .catch((e: unknown) => e);
      const took = Date.now() - t0;
      expect(err).toBeInstanceOf(StateUnavailableError);
      expect(took).toBeGreaterThanOrEqual(900); // the 1 s write timeout, not an instant refusal
      expect(took).toBeLessThan(2500);
      expect(a.status.state).toBe("unavailable");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await recovered;
    await a.sessions.put("hung", { replicaSystemId: "r", owner: "o", lastSeen: 2 });
    expect((await a.sessions.place("hung", { replicaSystemId: "x", owner: "o", lastSeen: 3 })).lastSeen).toBe(
      2,
    );
  });

  it("partition: writes reject quickly with StateUnavailableError, status flips, and both recover", async () => {
    const statuses: StateStatus[] = [];
    a.onStatus((s) => statuses.push(s));
    const down = untilStatus(a, "unavailable");
    await server.kill();
    await down;
    const t0 = Date.now();
    const err = await a.pins
      .put("c", "x", { replicaSystemId: "r", replicaSid: "rs", exp: Date.now() + 1000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateUnavailableError);
    expect((err as StateUnavailableError).code).toBe("state_unavailable");
    expect(await a.tickets.spend("jti-p", Date.now() + 1000).catch((e: unknown) => e)).toBeInstanceOf(
      StateUnavailableError,
    );
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(a.status.state).toBe("unavailable");

    const upA = untilStatus(a, "ok", 20_000);
    const upB = untilStatus(b, "ok", 20_000);
    await server.restart();
    await Promise.all([upA, upB]);
    const seen = untilChange((cb) =>
      b.pins.onChange((c, _cid, p) => p && c === "after" && cb(p.replicaSystemId)),
    );
    await a.pins.put("after", "x", {
      replicaSystemId: "r-after",
      replicaSid: "rs",
      exp: Date.now() + 60_000,
    });
    expect(await seen).toBe("r-after");
    expect(await b.tickets.spend("jti-1", Date.now() + 1000)).toBe(false); // the ledger survived on disk
    expect(statuses.map((s) => s.state)).toEqual(["unavailable", "ok"]);
  });
});
