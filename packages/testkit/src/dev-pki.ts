import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDevPki } from "@fame/identity/dev";

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
  /** the dev OAuth2 client generated with it */
  client: { client_id: string; client_secret: string };
  /** deletes the directory (it holds private keys and secrets) */
  remove(): void;
}

/** A fresh dev PKI in a temp directory, for tests that start real TLS services. */
export async function createTestPki(prefix: string): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    await generateDevPki({ dir });
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
      client: clients.clients[0]!,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
