/**
 * `@fame/identity/dev`: development tooling, kept out of the production entry.
 * The dev PKI (root, name-constrained intermediate, TLS server certificate,
 * signing keys and OAuth2 client secrets) behind `make pki` and the tests.
 */
export {
  DEFAULT_SERVER_NAMES,
  DEV_AGENT_CLIENT_ID,
  DEV_CLIENT_ID,
  type DevPkiFile,
  type DevPkiResult,
  type GenerateDevPkiOptions,
  generateDevPki,
  type TlsKeyAlgorithm,
} from "./dev/dev-pki.js";
