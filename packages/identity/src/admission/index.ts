export { AccessTokenCache } from "./access-token-cache.js";
export { admitNode, HELLO_PATH } from "./admit-node.js";
export {
  CertificateRenewer,
  type CertificateRenewerOptions,
} from "./certificate-renewer.js";
export { AdmissionError, type AdmissionStep, RETRY_AFTER_MAX_SEC } from "./errors.js";
export {
  type AdmissionEnvOptions,
  admissionOptionsFromEnv,
  DEFAULT_TOKEN_URL,
  DEFAULT_WELCOME_URL,
} from "./options-from-env.js";
export { x5cOf } from "./pem.js";
export type { Admission, AdmitNodeOptions } from "./types.js";
