/**
 * Welcome for a cluster of sentinels: stable systemIds per (principal, instance), placement on
 * the least loaded live sentinel from the registry, the URL list, 503 when none is live. The
 * registry is the shared state's memory profile on a hub the "sentinels" advertise into.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, clusterAudience } from "@fame/config";
import type { RunningService } from "@fame/http-service/server";
import {
  generateSigningKey,
  publicJwks,
  type SigningKey,
  signAccessToken,
  verifyAttachTicket,
} from "@fame/identity";
import { createLogger } from "@fame/logger";
import { sidFromPath } from "@fame/protocol";
import { type FabricState, MemoryHub, openMemoryFabricState } from "@fame/state";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ClusterPlacement,
  loadNodeIdKey,
  NoLiveSentinelError,
  stableSystemId,
  startWelcomeService,
  type WelcomeConfig,
  welcomeConfigFromEnv,
} from "../src/index.js";

const silent = createLogger({ name: "welcome-cluster-test", level: "silent" });
const KEY = new Uint8Array(randomBytes(32));
const URL_A = "wss://a.test:8000/fame/v1/attach/ws/downstream";
const URL_B = "wss://b.test:8000/fame/v1/attach/ws/downstream";
const URL_C = "wss://c.test:8000/fame/v1/attach/ws/downstream";

/** the sentinels' side of the shared state: what they advertise, Welcome reads */
const states: FabricState[] = [];
function sentinels(hub = new MemoryHub()): { hub: MemoryHub; state: FabricState } {
  const state = openMemoryFabricState("fabric", silent, { hub });
  states.push(state);
  return { hub, state };
}
afterEach(async () => {
  for (const s of states.splice(0)) await s.close();
});

describe("stable systemIds", () => {
  it("the same principal and instance always get the same 22-character id; another key, another id", () => {
    const id = stableSystemId(KEY, "fame-dev-agent", "inst_1");
    expect(id).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(stableSystemId(KEY, "fame-dev-agent", "inst_1")).toBe(id);
    expect(stableSystemId(new Uint8Array(randomBytes(32)), "fame-dev-agent", "inst_1")).not.toBe(id);
  });

  it("different principals (or instances) never meet in one id, however the strings split", () => {
    const ids = new Set<string>();
    for (let p = 0; p < 200; p++)
      for (let i = 0; i < 10; i++) ids.add(stableSystemId(KEY, `client-${p}`, `inst_${i}`));
    expect(ids.size).toBe(2000);
    // the 0x00 separator: ("ab", "c") and ("a", "bc") feed the MAC different bytes
    expect(stableSystemId(KEY, "ab", "c")).not.toBe(stableSystemId(KEY, "a", "bc"));
    expect(stableSystemId(KEY, "a", "b")).not.toBe(stableSystemId(KEY, "b", "a"));
  });

  it("the key file: base64url of at least 32 bytes; errors name the file, never its content", () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-node-id-key-"));
    const good = join(dir, "good");
    writeFileSync(good, `${Buffer.from(KEY).toString("base64url")}\n`);
    expect(Buffer.from(loadNodeIdKey(good, "S")).equals(Buffer.from(KEY))).toBe(true);
    const short = join(dir, "short");
    const shortText = randomBytes(16).toString("base64url");
    writeFileSync(short, shortText);
    const err = (() => {
      try {
        loadNodeIdKey(short, "FAME_WELCOME_NODE_ID_KEY_FILE");
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.setting).toBe("FAME_WELCOME_NODE_ID_KEY_FILE");
    expect(err?.message).not.toContain(shortText);
    writeFileSync(short, "not base64url!");
    expect(() => loadNodeIdKey(short, "S")).toThrow(ConfigError);
    expect(() => loadNodeIdKey(join(dir, "missing"), "S")).toThrow(ConfigError);
  });
});

describe("ClusterPlacement", () => {
  it("places on the least loaded live sentinel and lists every live one, preferred first", async () => {
    const { state } = sentinels();
    await state.registry.advertise({ sentinelId: "a", publicUrl: URL_A, nodes: 5 });
    await state.registry.advertise({ sentinelId: "b", publicUrl: URL_B, nodes: 1 });
    await state.registry.advertise({ sentinelId: "c", publicUrl: URL_C, nodes: 3 });
    const placement = new ClusterPlacement("fabric", KEY, state.registry);
    const p = placement.place({ clientId: "agent", instanceId: "i1" });
    expect(p.systemId).toBe(stableSystemId(KEY, "agent", "i1"));
    expect(p.assignedPath).toBe(`/fabric/${p.systemId}`);
    expect(p.transport).toEqual({ url: URL_B, urls: [URL_B, URL_C, URL_A] });
  });

  it("equal loads: a node placed again while nothing changed returns to the same sentinel; nodes spread", async () => {
    const { state } = sentinels();
    for (const [id, url] of [
      ["a", URL_A],
      ["b", URL_B],
      ["c", URL_C],
    ] as const)
      await state.registry.advertise({ sentinelId: id, publicUrl: url, nodes: 0 });
    const choose = (instanceId: string) =>
      new ClusterPlacement("fabric", KEY, state.registry).place({ clientId: "agent", instanceId }).transport
        ?.url;
    const firstChoice = new Map<string, string | undefined>();
    for (let i = 0; i < 30; i++) firstChoice.set(`i${i}`, choose(`i${i}`));
    for (const [instanceId, url] of firstChoice) expect(choose(instanceId)).toBe(url);
    expect(new Set(firstChoice.values()).size).toBe(3);
  });

  it("a burst of hellos between adverts spreads instead of piling onto the emptiest sentinel", async () => {
    const { state } = sentinels();
    await state.registry.advertise({ sentinelId: "a", publicUrl: URL_A, nodes: 0 });
    await state.registry.advertise({ sentinelId: "b", publicUrl: URL_B, nodes: 0 });
    const placement = new ClusterPlacement("fabric", KEY, state.registry);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const url = placement.place({ clientId: "agent", instanceId: `burst${i}` }).transport!.url;
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    expect([counts.get(URL_A), counts.get(URL_B)]).toEqual([5, 5]);
  });

  it("a draining sentinel takes no node; none live (or all draining) → NoLiveSentinelError", async () => {
    const { state } = sentinels();
    const placement = new ClusterPlacement("fabric", KEY, state.registry);
    expect(() => placement.place({ clientId: "agent", instanceId: "i" })).toThrow(NoLiveSentinelError);
    await state.registry.advertise({ sentinelId: "a", publicUrl: URL_A, nodes: 9, draining: false });
    await state.registry.advertise({ sentinelId: "b", publicUrl: URL_B, nodes: 0, draining: true });
    expect(placement.place({ clientId: "agent", instanceId: "i" }).transport).toEqual({
      url: URL_A,
      urls: [URL_A],
    });
    await state.registry.advertise({ sentinelId: "a", publicUrl: URL_A, nodes: 9, draining: true });
    expect(() => placement.place({ clientId: "agent", instanceId: "i" })).toThrow(NoLiveSentinelError);
  });
});

describe("hello in a cluster", () => {
  const OAUTH = { issuer: "https://oauth.test", audience: "fame.fabric" };
  let oauthKey: SigningKey;
  let welcomeKey: SigningKey;
  let svc: RunningService;
  let hub: MemoryHub;
  let state: FabricState;

  beforeAll(async () => {
    oauthKey = await generateSigningKey("oauth");
    welcomeKey = await generateSigningKey("welcome");
    hub = new MemoryHub();
    const config: WelcomeConfig = {
      host: "127.0.0.1",
      port: 0,
      tls: null,
      issuer: "https://welcome.test",
      signingKey: welcomeKey,
      accessToken: { keys: publicJwks([oauthKey]), ...OAUTH },
      sentinelAudience: clusterAudience("fabric"),
      sentinelId: "sentinel0",
      ticketTtlSec: 120,
      caGrantTtlSec: 60,
      transportUrl: "wss://unused.test/attach",
      caSignUrl: "https://localhost:8445/fame/v1/ca/sign",
      allowedDomains: ["fame.fabric"],
      wildcardPatterns: ["*.fame.fabric"],
      cluster: {
        clusterId: "fabric",
        storage: { profile: "memory", clusterId: "fabric" },
        nodeIdKey: KEY,
        stateOptions: { hub },
      },
      logger: silent,
    };
    svc = await startWelcomeService(config);
  });
  afterAll(async () => {
    await svc.close();
    await state?.close();
  });

  const token = async (clientId: string) =>
    (await signAccessToken(oauthKey, { ...OAUTH, clientId, scopes: ["node.connect"], ttlSec: 300 })).token;
  const hello = async (clientId: string, body: Record<string, unknown>) =>
    svc.app.inject({
      method: "POST",
      url: "/fame/v1/welcome/hello",
      headers: { authorization: `Bearer ${await token(clientId)}` },
      payload: { requestedLogicals: [], ...body },
    });

  it("no live sentinel: 503 temporarily_unavailable with retry_after (and Retry-After)", async () => {
    const res = await hello("agent", { instanceId: "i1" });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("2");
    expect(res.json()).toMatchObject({ error: "temporarily_unavailable", retry_after: 2 });
    expect(res.json().error_description).toContain("no live sentinel");
  });

  it("admits under /<clusterId>/<stable id>, with a cluster ticket and every live sentinel's URL", async () => {
    state = openMemoryFabricState("fabric", silent, { hub });
    await state.registry.advertise({ sentinelId: "a", publicUrl: URL_A, nodes: 2 });
    await state.registry.advertise({ sentinelId: "b", publicUrl: URL_B, nodes: 0 });
    const res = await hello("agent", { instanceId: "i1", systemId: "chosen" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.systemId).toBe(stableSystemId(KEY, "agent", "i1"));
    expect(body.assignedPath).toBe(`/fabric/${body.systemId}`);
    expect(body.sid).toBe(sidFromPath(body.assignedPath));
    expect(body.transport).toEqual({ url: URL_B, urls: [URL_B, URL_A] });
    const ticket = await verifyAttachTicket(body.attachTicket, {
      keys: publicJwks([welcomeKey]),
      issuer: "https://welcome.test",
      audience: "fame-cluster:fabric",
    });
    expect(ticket).toMatchObject({ system_id: body.systemId, assigned_path: body.assignedPath });

    // re-admission of the same instance: same id (hence sid), new ticket
    const again = (await hello("agent", { instanceId: "i1" })).json();
    expect(again.systemId).toBe(body.systemId);
    expect(again.attachTicket).not.toBe(body.attachTicket);
    // another principal naming the same instance gets an id of its own
    const other = (await hello("someone-else", { instanceId: "i1" })).json();
    expect(other.systemId).not.toBe(body.systemId);
    const health = (await svc.app.inject({ method: "GET", url: "/health" })).json();
    expect(health).toMatchObject({ cluster: "fabric", sentinels: 2, state: "ok" });
  });
});

describe("cluster settings", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fame-welcome-cluster-cfg-"));
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    writeFileSync(
      join(dir, "key.json"),
      JSON.stringify({ ...(await exportJWK(privateKey)), kid: "w", alg: "EdDSA" }),
    );
    writeFileSync(
      join(dir, "jwks.json"),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "o" }] }),
    );
    writeFileSync(join(dir, "node-id-key"), Buffer.from(KEY).toString("base64url"));
  });
  const env = (extra: Record<string, string> = {}) => ({
    // plain HTTP so the test does not depend on the dev PKI under certs/ (absent on a clean clone)
    FAME_DEV_INSECURE_HTTP: "1",
    FAME_WELCOME_SIGNING_KEY_FILE: join(dir, "key.json"),
    FAME_JWKS_FILE: join(dir, "jwks.json"),
    FAME_STORAGE_PROFILE: "nats",
    FAME_NATS_URL: "nats://127.0.0.1:4222",
    FAME_CLUSTER_ID: "east",
    FAME_WELCOME_NODE_ID_KEY_FILE: join(dir, "node-id-key"),
    ...extra,
  });

  it("FAME_STORAGE_PROFILE=nats: the cluster, its node-id key, and the cluster's ticket audience", async () => {
    const c = await welcomeConfigFromEnv(env());
    expect(c.cluster?.clusterId).toBe("east");
    expect(c.cluster?.storage).toMatchObject({ profile: "nats", servers: ["nats://127.0.0.1:4222"] });
    expect(Buffer.from(c.cluster!.nodeIdKey).equals(Buffer.from(KEY))).toBe(true);
    expect(c.sentinelAudience).toBe("fame-cluster:east");
    // memory (the default) reads none of it
    const single = await welcomeConfigFromEnv({ ...env(), FAME_STORAGE_PROFILE: "memory" });
    expect(single.cluster).toBeUndefined();
    expect(single.sentinelAudience).toBe("fame-sentinel");
  });

  it("a missing key file, or proposed systemIds in a cluster, stop the start naming the setting", async () => {
    const setting = async (e: NodeJS.ProcessEnv) =>
      welcomeConfigFromEnv(e).then(
        () => undefined,
        (x: unknown) => (x instanceof ConfigError ? x.setting : String(x)),
      );
    expect(await setting(env({ FAME_WELCOME_NODE_ID_KEY_FILE: join(dir, "nope") }))).toBe(
      "FAME_WELCOME_NODE_ID_KEY_FILE",
    );
    expect(await setting(env({ FAME_WELCOME_ALLOW_CLIENT_SYSTEM_ID: "true" }))).toBe(
      "FAME_WELCOME_ALLOW_CLIENT_SYSTEM_ID",
    );
  });
});
