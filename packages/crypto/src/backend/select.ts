import { CryptoError } from "../errors.js";
import { createNativeBackend, isNativeAvailable } from "./native.js";
import { createNobleBackend } from "./noble.js";
import type { BackendName, CryptoBackend } from "./types.js";

export const BACKEND_ENV_VAR = "FAME_CRYPTO_BACKEND";

const BACKEND_NAMES: readonly BackendName[] = ["native", "noble"];

// Back ends are stateless apart from caches, so one instance of each is enough.
let nativeInstance: CryptoBackend | undefined;
let nobleInstance: CryptoBackend | undefined;
let nativeAvailable: boolean | undefined;

export function isBackendAvailable(name: BackendName): boolean {
  if (name === "noble") return true;
  nativeAvailable ??= isNativeAvailable();
  return nativeAvailable;
}

/** The named back end; throws `unavailable` when native cannot run here. */
export function getBackend(name: BackendName): CryptoBackend {
  if (name === "noble") {
    nobleInstance ??= createNobleBackend();
    return nobleInstance;
  }
  if (name === "native") {
    if (!isBackendAvailable("native")) {
      throw new CryptoError(
        "unavailable",
        "native crypto back end is unavailable (node:crypto lacks Ed25519, X25519 or ChaCha20-Poly1305)",
      );
    }
    nativeInstance ??= createNativeBackend();
    return nativeInstance;
  }
  throw new CryptoError("bad_config", `unknown crypto back end ${JSON.stringify(name)}`);
}

function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/**
 * Native when node:crypto has everything (it is several times faster),
 * otherwise noble. `FAME_CRYPTO_BACKEND=native|noble` overrides the choice;
 * it is read on every call so tests and tools can switch it at run time.
 */
export function defaultBackend(): CryptoBackend {
  const env = typeof process === "undefined" ? undefined : process.env[BACKEND_ENV_VAR];
  if (env !== undefined && env !== "") {
    const wanted = env.trim().toLowerCase();
    if (!isBackendName(wanted)) {
      throw new CryptoError(
        "bad_config",
        `${BACKEND_ENV_VAR} must be "native" or "noble", got ${JSON.stringify(env)}`,
      );
    }
    return getBackend(wanted);
  }
  return getBackend(isBackendAvailable("native") ? "native" : "noble");
}
