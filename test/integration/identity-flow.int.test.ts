import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OutboundError, requestJson } from "@fame/http-service/client";
import {
  AdmissionError,
  admitNode,
  createNodeCsr,
  verifyAttachTicket,
  verifyNodeCertificate,
} from "@fame/identity";
import { generateDevPki } from "@fame/identity/dev";
import { sidFromPath } from "@fame/protocol";
import { freePorts, pidAlive, type RunningProcess, startProcess, stopAll } from "@fame/testkit";
import type { JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The whole identity flow over real TLS between real processes built from
 * dist/: OAuth2 → Welcome → CA, driven by admitNode.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (service: string) => join(root, "services", service, "dist", "bin.js");

let dir: string;
let trustBundle: string;
let client: { client_id: string; client_secret: string };
const procs: RunningProcess[] = [];
const url = { oauth2: "", welcome: "", ca: "" };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-identity-flow-"));
  await generateDevPki({ dir });
  trustBundle = readFileSync(join(dir, "trust-bundle.pem"), "utf8");
  const clients = JSON.parse(readFileSync(join(dir, "secrets", "oauth2-clients.json"), "utf8")) as {
    clients: { client_id: string; client_secret: string }[];
  };
  client = clients.clients[0]!;

  const [oauthPort, welcomePort, caPort] = await freePorts(3);
  url.oauth2 = `https://127.0.0.1:${oauthPort}`;
  url.welcome = `https://127.0.0.1:${welcomePort}`;
  url.ca = `https://127.0.0.1:${caPort}`;
  const common = {
    FAME_CERTS_DIR: dir,
    FAME_TLS_CERT: join(dir, "server.pem"),
    FAME_TLS_KEY: join(dir, "server.key"),
    FAME_CA_CERTS: join(dir, "trust-bundle.pem"),
    FAME_OAUTH2_ISSUER: url.oauth2,
    FAME_WELCOME_ISSUER: url.welcome,
    FAME_DEV_INSECURE_HTTP: "0",
    FAME_LOG_LEVEL: "info",
  };
  const start = (name: string, env: Record<string, string>, base: string) =>
    startProcess({
      name,
      script: bin(name),
      cwd: root,
      env: { ...common, ...env },
      readyUrl: `${base}/health`,
      ca: trustBundle,
      readyTimeoutMs: 20_000,
    });

  procs.push(await start("oauth2", { FAME_OAUTH2_PORT: String(oauthPort) }, url.oauth2));
  procs.push(
    await start(
      "welcome",
      {
        FAME_WELCOME_PORT: String(welcomePort),
        FAME_JWKS_URL: `${url.oauth2}/.well-known/jwks.json`,
        FAME_CA_SERVICE_URL: url.ca,
      },
      url.welcome,
    ),
  );
  procs.push(
    await start(
      "ca",
      { FAME_CA_PORT: String(caPort), FAME_WELCOME_JWKS_URL: `${url.welcome}/.well-known/jwks.json` },
      url.ca,
    ),
  );
});

afterAll(async () => {
  const pids = procs.map((p) => p.pid);
  for (const p of procs) await p.stop("SIGTERM", 5000);
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const admissionOptions = () => ({
  tokenUrl: `${url.oauth2}/oauth/token`,
  clientId: client.client_id,
  clientSecret: client.client_secret,
  welcomeUrl: url.welcome,
  trustBundlePem: trustBundle,
  instanceId: "it-instance-1",
  requestedLogicals: ["*.fame.fabric", "api.fame.fabric"],
  capabilities: ["rpc"],
  timeoutMs: 10_000,
});

async function accessToken(): Promise<string> {
  const basic = Buffer.from(
    `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`,
  );
  const res = await requestJson<{ access_token: string }>(`${url.oauth2}/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${basic.toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials&scope=node.connect",
    ca: trustBundle,
  });
  return res.access_token;
}

describe("identity flow across oauth2, welcome and ca", () => {
  it("admits a node end to end: certificate chain and attach ticket verify", async () => {
    const a = await admitNode(admissionOptions());
    expect(a.assignedPath).toBe(`/sentinel0/${a.systemId}`);
    expect(a.sid).toBe(sidFromPath(a.assignedPath));
    expect(a.acceptedLogicals).toEqual(["*.fame.fabric", "api.fame.fabric"]);
    expect(a.x5c.length).toBeGreaterThanOrEqual(1);
    expect(a.seed).toHaveLength(32);
    expect(a.notAfter.getTime()).toBeGreaterThan(Date.now());

    const node = await verifyNodeCertificate({
      chain: a.x5c,
      trustBundlePem: trustBundle,
      expectedSystemId: a.systemId,
    });
    expect(node.systemId).toBe(a.systemId);
    expect(node.sid).toBe(a.sid);
    expect(node.path).toBe(a.assignedPath);
    expect(node.logicals).toContain("*.fame.fabric");
    expect(Buffer.from(node.publicKey).equals(Buffer.from(a.publicKey))).toBe(true);

    const jwks = await requestJson<JSONWebKeySet>(`${url.welcome}/.well-known/jwks.json`, {
      ca: trustBundle,
    });
    const ticket = await verifyAttachTicket(a.attachTicket, {
      keys: jwks,
      issuer: url.welcome,
      audience: "fame-sentinel",
    });
    expect(ticket.system_id).toBe(a.systemId);
    expect(ticket.sid).toBe(sidFromPath(ticket.assigned_path));
    expect(ticket.instance_id).toBe("it-instance-1");
  });

  it("refuses a wrong client secret over the wire", async () => {
    const err = await admitNode({ ...admissionOptions(), clientSecret: "definitely-not-the-secret" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdmissionError);
    expect((err as AdmissionError).step).toBe("token");
    expect((err as AdmissionError).code).toBe("invalid_client");
    expect((err as AdmissionError).status).toBe(401);
  });

  it("refuses a logical outside policy at Welcome", async () => {
    const err = await admitNode({ ...admissionOptions(), requestedLogicals: ["*.evil.net"] }).catch(
      (e: unknown) => e,
    );
    expect((err as AdmissionError).step).toBe("hello");
    expect((err as AdmissionError).code).toBe("logical_not_allowed");
  });

  it("the CA refuses a grant reused for another systemId (403)", async () => {
    const hello = await requestJson<{
      systemId: string;
      assignedPath: string;
      acceptedLogicals: string[];
      caGrant: { url: string; token: string };
    }>(`${url.welcome}/fame/v1/welcome/hello`, {
      method: "POST",
      headers: { authorization: `Bearer ${await accessToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ instanceId: "it-instance-2", requestedLogicals: ["*.fame.fabric"] }),
      ca: trustBundle,
    });
    const intruder = await createNodeCsr({
      systemId: "intruder",
      assignedPath: "/sentinel0/intruder",
      logicals: hello.acceptedLogicals,
    });
    const err = await requestJson(hello.caGrant.url, {
      method: "POST",
      headers: { authorization: `Bearer ${hello.caGrant.token}`, "content-type": "application/json" },
      body: JSON.stringify({ csr: intruder.csrPem }),
      ca: trustBundle,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect((err as OutboundError).status).toBe(403);
  });
});
