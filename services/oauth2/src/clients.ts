import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError, readSettingJson } from "@fame/config";
import { isClientId, parseScope, SCOPE_TOKEN_PATTERN, TOKEN_LIMITS } from "@fame/identity";

export const CLIENT_CREDENTIALS = "client_credentials";

/** A registered client as configured (the secret only ever lives in memory as a digest). */
export interface OAuth2ClientConfig {
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** default: ["client_credentials"] */
  grantTypes?: string[];
}

interface RegisteredClient {
  clientId: string;
  secretDigest: Buffer;
  scopes: string[];
  grantTypes: string[];
}

export interface AuthenticatedClient {
  clientId: string;
  scopes: readonly string[];
  grantTypes: readonly string[];
}

const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_LENGTH = 512;

/**
 * The client registry. Secrets are compared as SHA-256 digests with
 * timingSafeEqual: equal lengths always, and an unknown client id still costs
 * a comparison, so timing tells nothing about which ids exist.
 */
export class ClientRegistry {
  readonly #clients = new Map<string, RegisteredClient>();
  readonly #decoy = digest("decoy secret for unknown clients");

  constructor(clients: readonly OAuth2ClientConfig[]) {
    for (const c of clients) {
      this.#clients.set(c.clientId, {
        clientId: c.clientId,
        secretDigest: digest(c.clientSecret),
        scopes: [...c.scopes],
        grantTypes: [...(c.grantTypes ?? [CLIENT_CREDENTIALS])],
      });
    }
  }

  get size(): number {
    return this.#clients.size;
  }

  authenticate(clientId: string, secret: string): AuthenticatedClient | undefined {
    const client = this.#clients.get(clientId);
    const ok = timingSafeEqual(digest(secret), client?.secretDigest ?? this.#decoy);
    if (!client || !ok) return undefined;
    return { clientId: client.clientId, scopes: client.scopes, grantTypes: client.grantTypes };
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Validates one client entry from config; `where` names it in errors without echoing the secret. */
export function parseClientEntry(raw: unknown, setting: string, where: string): OAuth2ClientConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new ConfigError(setting, `${where} must be an object`);
  const r = raw as Record<string, unknown>;
  const clientId = r["client_id"];
  const secret = r["client_secret"];
  const scopes = r["scopes"] ?? [];
  const grantTypes = r["grant_types"];
  if (!isClientId(clientId))
    throw new ConfigError(setting, `${where}.client_id must match [A-Za-z0-9_.:@-]{1,128}`);
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    throw new ConfigError(
      setting,
      `${where}.client_secret must be a string of ${MIN_SECRET_LENGTH}–${MAX_SECRET_LENGTH} characters`,
    );
  }
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && SCOPE_TOKEN_PATTERN.test(s))) {
    throw new ConfigError(setting, `${where}.scopes must be a list of scope tokens`);
  }
  // Refused at startup rather than as a failed token request: an access token must carry them all.
  if (scopes.length > 0 && parseScope(scopes.join(" ")) === undefined) {
    throw new ConfigError(
      setting,
      `${where}.scopes must fit one access token (≤ ${TOKEN_LIMITS.maxScopes} scopes, ≤ ${TOKEN_LIMITS.maxScopeLength} characters)`,
    );
  }
  if (
    grantTypes !== undefined &&
    (!Array.isArray(grantTypes) || !grantTypes.every((g) => typeof g === "string"))
  ) {
    throw new ConfigError(setting, `${where}.grant_types must be a list of strings`);
  }
  return {
    clientId,
    clientSecret: secret,
    scopes: scopes as string[],
    ...(grantTypes ? { grantTypes: grantTypes as string[] } : {}),
  };
}

/** Reads `{"clients":[{client_id, client_secret, scopes, grant_types?}]}`. */
export function loadClientsFile(file: string, setting: string): OAuth2ClientConfig[] {
  const parsed = readSettingJson(file, setting);
  const list = (parsed as { clients?: unknown } | null)?.clients;
  if (!Array.isArray(list) || list.length === 0)
    throw new ConfigError(setting, `${file} needs a non-empty "clients" list`);
  const clients = list.map((c, i) => parseClientEntry(c, setting, `clients[${i}]`));
  const ids = new Set(clients.map((c) => c.clientId));
  if (ids.size !== clients.length) throw new ConfigError(setting, `${file} lists a client_id twice`);
  return clients;
}
