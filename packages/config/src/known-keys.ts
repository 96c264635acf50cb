import { ConfigError } from "./errors.js";
import { pick } from "./settings.js";

/**
 * The keys a process reads from its YAML, per block (camelCase paths, as loaded; "" is the
 * top level). Any other key is a typo that would drop its whole block silently: `evn:` for
 * `env:` started a service on its defaults, `nod:` for `node:` an open sentinel.
 */
export type KnownKeys = Readonly<Record<string, readonly string[]>>;

/** An identity service's file (oauth2, welcome, ca): only `env:` is read. */
export const SERVICE_YAML_KEYS: KnownKeys = { "": ["env"] };

/** An agent's or a client's file (the SDK's `nodeConfigFromEnv`). */
export const NODE_YAML_KEYS: KnownKeys = {
  "": ["node", "env"],
  node: ["type", "requestedLogicals", "security", "admission"],
  "node.security": ["type", "profile"],
  "node.admission": ["type", "profile"],
};

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Refuses the first key `known` does not list, naming it in its snake_case spelling. */
export function refuseUnknownKeys(tree: Record<string, unknown>, known: KnownKeys): void {
  for (const [path, keys] of Object.entries(known)) {
    const block = path === "" ? tree : pick(tree, path);
    if (typeof block !== "object" || block === null || Array.isArray(block)) continue;
    for (const key of Object.keys(block)) {
      if (keys.includes(key)) continue;
      const where = path === "" ? snake(key) : `${path.split(".").map(snake).join(".")}.${snake(key)}`;
      throw new ConfigError(where, `unknown key (known here: ${keys.map(snake).join(", ")})`);
    }
  }
}
