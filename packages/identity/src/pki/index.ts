export {
  type CreateNodeCsrOptions,
  createNodeCsr,
  MAX_CSR_PEM_CHARS,
  type NodeCsr,
  type ParsedNodeCsr,
  parseNodeCsr,
} from "./csr.js";
export {
  CertificateError,
  type CertificateErrorCode,
  CsrError,
  type CsrErrorCode,
  PkiConfigError,
} from "./errors.js";
export {
  decodeFameExtensionValue,
  encodeFameExtensionValue,
  FAME_EXTENSION_OID,
  FAME_EXTENSION_UUID,
  FameExtensionError,
  type FameIdentityClaims,
  fameExtensionDer,
} from "./fame-extension.js";
export {
  DEFAULT_CERT_TTL_SEC,
  DEFAULT_MAX_CERT_TTL_SEC,
  type IssuedNodeCertificate,
  type IssueNodeCertificateOptions,
  issueNodeCertificate,
  NOT_BEFORE_SKEW_SEC,
} from "./issue.js";
export { ed25519Pkcs8FromSeed, ed25519RawFromSpki, importEd25519Seed, importPrivateKeyPem } from "./keys.js";
export { DEFAULT_TRUST_DOMAIN, nodeSpiffeId, parseSpiffeId } from "./names.js";
export {
  decodePrincipalValue,
  FAME_PRINCIPAL_EXTENSION_OID,
  FAME_PRINCIPAL_EXTENSION_UUID,
  principalExtensionDer,
} from "./principal-extension.js";
export {
  clearCertificateCache,
  MAX_CERT_BYTES,
  MAX_CHAIN_LENGTH,
  type VerifiedNode,
  type VerifyNodeCertificateOptions,
  verifyNodeCertificate,
} from "./verify.js";
