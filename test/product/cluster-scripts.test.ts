import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * make start-cluster's pieces (scripts/fabric/cluster.mjs, nats.mjs, cluster-demo.mjs) through
 * the functions they export; the running cluster is checked by test/e2e/cluster-flow.int.test.ts.
 */
interface Spec {
  name: string;
  kind?: string;
  port?: number;
  clusterPort?: number;
  monitorPort?: number;
  script: string;
  args?: string[];
  extraEnv?: Record<string, string>;
}
interface ClusterSettings {
  ports: {
    sentinels: number[];
    nats: number[];
    natsCluster: number[];
    natsMonitor: number[];
    sentinel: number;
  };
  natsUrls: string[];
  attachUrls: string[];
}
interface ClusterModule {
  clusterSettings(env: NodeJS.ProcessEnv, opts: { useState: boolean }): ClusterSettings;
  clusterProcesses(settings: ClusterSettings, natsBinary: string): Spec[];
  everyProcess(settings: ClusterSettings, natsBinary: string): Spec[];
}
interface NatsModule {
  natsConfigText(o: {
    name: string;
    port: number;
    clusterPort: number;
    monitorPort: number;
    host?: string;
    peers: string[];
    storeDir: string;
    token: string;
    routePassword: string;
  }): string;
  natsServerBinary(env: NodeJS.ProcessEnv): string | undefined;
  natsConfigPlan(
    specs: Spec[],
    toWrite: Spec[],
    secrets: { token: string; routePassword: string },
  ): { spec: Spec; text: string }[];
}
interface Call {
  ok: boolean;
  t: number;
}
interface DemoModule {
  summarize(calls: Call[]): { calls: number; failures: number; maxGapMs: number };
  summaryLine(s: { calls: number; failures: number; maxGapMs: number }): string;
}

const load = async <T>(path: string): Promise<T> =>
  (await import(
    pathToFileURL(fileURLToPath(new URL(`../../scripts/fabric/${path}`, import.meta.url))).href
  )) as T;
const cluster = await load<ClusterModule>("cluster.mjs");
const nats = await load<NatsModule>("nats.mjs");
const demo = await load<DemoModule>("cluster-demo.mjs");
const scratch = mkdtempSync(join(tmpdir(), "fame-cluster-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const BASE_ENV = { FAME_OAUTH2_PORT: "9443", FAME_WELCOME_PORT: "9444", FAME_CA_PORT: "9445" };

describe("make start-cluster's topology (scripts/fabric/cluster.mjs)", () => {
  it("three of each in a row from the base ports, or the lists given", () => {
    const s = cluster.clusterSettings({ ...BASE_ENV, FAME_SENTINEL_PORT: "9000" }, { useState: false });
    expect(s.ports.sentinels).toEqual([9000, 9001, 9002]);
    expect(s.ports.nats).toEqual([4222, 4223, 4224]);
    expect(s.ports.natsCluster).toEqual([6222, 6223, 6224]);
    expect(s.ports.natsMonitor).toEqual([8222, 8223, 8224]);
    expect(s.natsUrls).toEqual(["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"]);
    const listed = cluster.clusterSettings(
      { ...BASE_ENV, FAME_SENTINEL_PORTS: "7001,7005,7009", FAME_NATS_PORTS: "5001, 5002, 5003" },
      { useState: false },
    );
    expect(listed.ports.sentinels).toEqual([7001, 7005, 7009]);
    expect(listed.ports.sentinel).toBe(7001);
    expect(listed.ports.nats).toEqual([5001, 5002, 5003]);
    expect(listed.attachUrls[2]).toBe("wss://127.0.0.1:7009/fame/v1/attach/ws/downstream");
  });

  it("refuses a list that is not three ports, and a port given twice", () => {
    expect(() =>
      cluster.clusterSettings({ ...BASE_ENV, FAME_NATS_PORTS: "5001,5002" }, { useState: false }),
    ).toThrow(/FAME_NATS_PORTS must be 3 port numbers/);
    expect(() =>
      cluster.clusterSettings({ ...BASE_ENV, FAME_NATS_PORTS: "5001,5002,x" }, { useState: false }),
    ).toThrow(/FAME_NATS_PORTS/);
    expect(() =>
      cluster.clusterSettings(
        { ...BASE_ENV, FAME_SENTINEL_PORTS: "7001,7002,7003", FAME_NATS_MONITOR_PORTS: "7003,7004,7005" },
        { useState: false },
      ),
    ).toThrow(/port 7003 is given twice/);
  });

  it("sentinels and Welcome get the NATS settings (a token file, never the token); replicas get none", () => {
    const s = cluster.clusterSettings(BASE_ENV, { useState: false });
    const specs = cluster.clusterProcesses(s, "/usr/sbin/nats-server");
    expect(specs.map((p) => p.name)).toEqual([
      "nats-1",
      "nats-2",
      "nats-3",
      "oauth2",
      "welcome",
      "ca",
      "sentinel1",
      "sentinel2",
      "sentinel3",
      "math-agent-replica1",
      "math-agent-replica2",
      "math-agent-replica3",
    ]);
    for (const name of ["welcome", "sentinel1", "sentinel2", "sentinel3"]) {
      const env = specs.find((p) => p.name === name)!.extraEnv!;
      expect(env["FAME_STORAGE_PROFILE"]).toBe("nats");
      expect(env["FAME_NATS_URL"]).toBe(s.natsUrls.join(","));
      expect(env["FAME_NATS_TOKEN_FILE"]).toMatch(/certs\/secrets\/nats-token$/);
      expect(JSON.stringify(env)).not.toMatch(/FAME_NATS_TOKEN"/);
    }
    const s2 = specs.find((p) => p.name === "sentinel2")!.extraEnv!;
    expect(s2["FAME_NODE_ID"]).toBe("sentinel2");
    expect(s2["FAME_PUBLIC_URL"]).toBe(s.attachUrls[1]);
    for (const p of specs.filter((x) => x.name.startsWith("math-agent"))) {
      expect(Object.keys(p.extraEnv ?? {}).filter((k) => k.startsWith("FAME_NATS"))).toEqual([]);
    }
    const n2 = specs.find((p) => p.name === "nats-2")!;
    expect(n2.args).toEqual(["-c", n2.script]);
  });

  it("make stop's order: replicas, sentinels, ca, welcome, oauth2, NATS last", () => {
    const s = cluster.clusterSettings(BASE_ENV, { useState: false });
    const names = cluster.everyProcess(s, "nats-server").map((p) => p.name);
    expect(names.slice(0, 3)).toEqual(["math-agent-replica1", "math-agent-replica2", "math-agent-replica3"]);
    expect(names.slice(3, 7)).toEqual(["sentinel", "sentinel1", "sentinel2", "sentinel3"]);
    expect(names.slice(7)).toEqual(["ca", "welcome", "oauth2", "nats-1", "nats-2", "nats-3"]);
    // make stop of the single fabric passes its own settings (no cluster ports): same names
    const single = { ports: { oauth2: 9443, welcome: 9444, ca: 9445, sentinel: 9000 } };
    expect(
      cluster.everyProcess(single as unknown as ClusterSettings, "nats-server").map((p) => p.name),
    ).toEqual(names);
  });
});

describe("the NATS servers' config files (scripts/fabric/nats.mjs)", () => {
  const text = nats.natsConfigText({
    name: "nats-2",
    port: 14223,
    clusterPort: 16223,
    monitorPort: 18223,
    peers: ["127.0.0.1:16222", "127.0.0.1:16224"],
    storeDir: join(scratch, "nats-2"),
    token: "ab".repeat(16),
    routePassword: "cd".repeat(16),
  });

  it("a server restarted alone gets a config routing to every other server, not only to those restarted with it", () => {
    const specs = [0, 1, 2].map((i) => ({
      name: `nats-${i + 1}`,
      kind: "nats",
      script: `run/nats-${i + 1}.conf`,
      port: 4222 + i,
      clusterPort: 6222 + i,
      monitorPort: 8222 + i,
      storeDir: join(scratch, `nats-${i + 1}`),
    }));
    const plan = nats.natsConfigPlan(specs, [specs[1]!], { token: "t", routePassword: "p" });
    expect(plan.map((p) => p.spec.name)).toEqual(["nats-2"]);
    const routes = [...plan[0]!.text.matchAll(/nats-route:\/\/[^@]+@([\d.:]+)/g)].map((m) => m[1]);
    expect(routes).toEqual(["127.0.0.1:6222", "127.0.0.1:6224"]);
  });

  it("everything on loopback, a client token, route credentials, JetStream with its store", () => {
    expect(text).toContain('listen: "127.0.0.1:14223"');
    expect(text).toContain('http: "127.0.0.1:18223"');
    expect(text).toContain('listen: "127.0.0.1:16223"');
    expect(text).toContain(`token: "${"ab".repeat(16)}"`);
    expect(text).toContain(`store_dir: "${join(scratch, "nats-2")}"`);
    expect(text).toContain(`"nats-route://fame_route:${"cd".repeat(16)}@127.0.0.1:16222"`);
    expect(text).toContain(`"nats-route://fame_route:${"cd".repeat(16)}@127.0.0.1:16224"`);
    expect(text).not.toMatch(/0\.0\.0\.0/);
  });

  const bin = nats.natsServerBinary(process.env);
  it.skipIf(bin === undefined)("nats-server itself accepts the file (when installed)", () => {
    const file = join(scratch, "nats-2.conf");
    writeFileSync(file, text);
    const r = spawnSync(bin!, ["-t", "-c", file], { encoding: "utf8", timeout: 10_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/configuration file .* is valid/);
    expect(r.status).toBe(0);
  });
});

describe("make cluster-demo's summary (scripts/fabric/cluster-demo.mjs)", () => {
  it("counts calls and failures; the longest gap is between answers, failures in it included", () => {
    const calls: Call[] = [
      { ok: true, t: 1000 },
      { ok: true, t: 1100 },
      { ok: false, t: 1500 },
      { ok: true, t: 2900 },
      { ok: true, t: 3000 },
    ];
    const s = demo.summarize(calls);
    expect(s).toEqual({ calls: 5, failures: 1, maxGapMs: 1800 });
    expect(demo.summaryLine(s)).toBe("cluster-demo: calls=5 failures=1 max_gap_ms=1800");
    expect(demo.summarize([])).toEqual({ calls: 0, failures: 0, maxGapMs: 0 });
  });
});
