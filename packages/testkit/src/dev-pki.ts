import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDevPki, type TlsKeyAlgorithm } from "@fame/identity/dev";

export interface TestPki {
  dir: string;
  /** PEM of the root the services' TLS certificates chain to */
  trustBundle: string;
  /** FAME_* settings that point a service or node at this PKI */
  env: {
    FAME_CERTS_DIR: string;
    FAME_TLS_CERT: string;
    FAME_TLS_KEY: string;
    FAME_CA_CERTS: string;
  };
  /** the sentinel's operator token (secrets/admin-token): drain, status, metrics */
  adminToken: string;
  /** the file holding it, for FAME_SENTINEL_ADMIN_TOKEN_FILE */
  adminTokenFile: string;
  /**
   * the dev OAuth2 agent credential (fame-dev-agent): may serve pools under `*.fame.fabric` and
   * call, as the single dev client could before the access policy split it
   */
  client: { client_id: string; client_secret: string };
  /** the same credential, by its role */
  agent: { client_id: string; client_secret: string };
  /** the call-only credential (fame-dev-client): no serve grant in config/policy.yml */
  caller: { client_id: string; client_secret: string };
  /** deletes the directory (it holds private keys and secrets) */
  remove(): void;
}

/** A fresh dev PKI in a temp directory, for tests that start real TLS services. */
export async function createTestPki(
  prefix: string,
  opts: { tlsKeyAlgorithm?: TlsKeyAlgorithm } = {},
): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    await generateDevPki({ dir, ...(opts.tlsKeyAlgorithm ? { tlsKeyAlgorithm: opts.tlsKeyAlgorithm } : {}) });
    const clients = JSON.parse(readFileSync(join(dir, "secrets", "oauth2-clients.json"), "utf8")) as {
      clients: { client_id: string; client_secret: string }[];
    };
    return {
      dir,
      trustBundle: readFileSync(join(dir, "trust-bundle.pem"), "utf8"),
      env: {
        FAME_CERTS_DIR: dir,
        FAME_TLS_CERT: join(dir, "server.pem"),
        FAME_TLS_KEY: join(dir, "server.key"),
        FAME_CA_CERTS: join(dir, "trust-bundle.pem"),
      },
      client: byId(clients.clients, "fame-dev-agent"),
      agent: byId(clients.clients, "fame-dev-agent"),
      caller: byId(clients.clients, "fame-dev-client"),
      adminToken: readFileSync(join(dir, "secrets", "admin-token"), "utf8").trim(),
      adminTokenFile: join(dir, "secrets", "admin-token"),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function byId<C extends { client_id: string }>(clients: C[], id: string): C {
  const c = clients.find((x) => x.client_id === id);
  if (c === undefined) throw new Error(`dev PKI has no OAuth2 client ${id}`);
  return c;
}
