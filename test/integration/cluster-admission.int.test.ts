import { Writable } from "node:stream";
import { requestJson } from "@fame/http-service/client";
import { AdmissionError, type AdmitNodeOptions, admitNode } from "@fame/identity";
import { createLogger } from "@fame/logger";
import { sidFromPath } from "@fame/protocol";
import { type FabricState, openFabricState } from "@fame/state";
import { type ClusterStack, pidAlive, startClusterStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Admission into a cluster over real processes: a JetStream nats-server, OAuth2, two Welcome
 * processes in cluster mode sharing only the node-id key file, and the CA. The test process
 * stands in for the sentinels' registry adverts (the sentinels' own advertising is tested with
 * them), so what is checked here is Welcome's part: placement from the registry, the URL list,
 * stable systemIds across admissions and Welcome processes, certificates for cluster paths.
 */
const CLUSTER = "itcluster";
const URL_A = "wss://127.0.0.1:1/fame/v1/attach/ws/downstream";
const URL_B = "wss://127.0.0.1:2/fame/v1/attach/ws/downstream";

const silent = createLogger({
  name: "it-cluster",
  level: "warn",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
let stack: ClusterStack;
let state: FabricState;
const url = { oauth2: "", welcome: "", welcome2: "" };

beforeAll(async () => {
  // both Welcome processes: the same cluster settings and key file (the dev PKI's), nothing shared at run time
  stack = await startClusterStack({ clusterId: CLUSTER, welcomes: 2, name: "fame-cluster-admission" });
  url.oauth2 = stack.urls.oauth2;
  url.welcome = stack.urls.welcomes[0]!;
  url.welcome2 = stack.urls.welcomes[1]!;
  state = await openFabricState(stack.stateSettings, silent, { name: "it-sentinels" });
}, 90_000);

afterAll(async () => {
  await state?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

const admission = (instanceId: string, welcome = url.welcome): AdmitNodeOptions => ({
  tokenUrl: `${url.oauth2}/oauth/token`,
  clientId: stack.pki.agent.client_id,
  clientSecret: stack.pki.agent.client_secret,
  welcomeUrl: welcome,
  trustBundlePem: stack.pki.trustBundle,
  instanceId,
  requestedLogicals: ["*.fame.fabric"],
});

const liveSentinels = async (welcome: string) =>
  ((await requestJson(`${welcome}/health`, { ca: stack.pki.trustBundle })) as { sentinels?: number })
    .sentinels;

describe("Welcome in a cluster (real nats-server)", () => {
  it("no live sentinel: admission fails with 503 temporarily_unavailable, nothing issued", async () => {
    const err = await admitNode(admission("inst_none")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdmissionError);
    expect([
      (err as AdmissionError).step,
      (err as AdmissionError).code,
      (err as AdmissionError).status,
    ]).toEqual(["hello", "temporarily_unavailable", 503]);
  });

  it("places on the least loaded sentinel, lists both, and certifies a /<cluster>/<systemId> path", async () => {
    await state.registry.advertise({ sentinelId: "sa", publicUrl: URL_A, nodes: 4 });
    await state.registry.advertise({ sentinelId: "sb", publicUrl: URL_B, nodes: 1 });
    await expect.poll(() => liveSentinels(url.welcome), { timeout: 10_000 }).toBe(2);
    const a = await admitNode(admission("inst_a"));
    expect(a.transportUrl).toBe(URL_B);
    expect(a.transportUrls).toEqual([URL_B, URL_A]);
    expect(a.systemId).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(a.assignedPath).toBe(`/${CLUSTER}/${a.systemId}`);
    expect(a.sid).toBe(sidFromPath(a.assignedPath));
    // admitNode verified the certificate names this path; the ticket is for the cluster
    const claims = JSON.parse(Buffer.from(a.attachTicket.split(".")[1]!, "base64url").toString()) as {
      aud: string;
    };
    expect(claims.aud).toBe(`fame-cluster:${CLUSTER}`);
  });

  it("the same instance gets the same systemId (new key, new ticket) from either Welcome; another instance another id", async () => {
    await expect.poll(() => liveSentinels(url.welcome2), { timeout: 10_000 }).toBe(2);
    const first = await admitNode(admission("inst_b"));
    const again = await admitNode(admission("inst_b"));
    const elsewhere = await admitNode(admission("inst_b", url.welcome2));
    expect(again.systemId).toBe(first.systemId);
    expect(elsewhere.systemId).toBe(first.systemId);
    expect(elsewhere.sid).toBe(first.sid);
    expect(again.attachTicket).not.toBe(first.attachTicket);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(first.publicKey))).toBe(false);
    // with the last admission in hand, the other Welcome's answer names the same identity: the
    // certificate is kept, no CA round trip
    const kept = await admitNode({ ...admission("inst_b", url.welcome2), previous: first });
    expect(kept.x5c).toEqual(first.x5c);
    expect(kept.attachTicket).not.toBe(first.attachTicket);
    const other = await admitNode(admission("inst_c"));
    expect(other.systemId).not.toBe(first.systemId);
  });

  it("a sentinel that stops advertising drops out of the list", async () => {
    await state.registry.withdraw("sb");
    await expect.poll(() => liveSentinels(url.welcome), { timeout: 10_000 }).toBe(1);
    const a = await admitNode(admission("inst_d"));
    expect(a.transportUrls).toEqual([URL_A]);
  });
});
