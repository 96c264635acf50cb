/** Why a certificate signing request was refused; `code` is stable and safe to return to clients. */
export type CsrErrorCode =
  | "csr_invalid"
  | "csr_too_large"
  | "csr_unsupported_key"
  | "csr_signature_invalid"
  | "csr_identity_mismatch"
  | "csr_sid_mismatch"
  | "csr_path_mismatch"
  | "csr_logical_not_granted"
  | "csr_principal_mismatch";

export class CsrError extends Error {
  override readonly name = "CsrError";
  constructor(
    readonly code: CsrErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Why a certificate chain was not accepted. */
export type CertificateErrorCode =
  | "cert_malformed"
  | "cert_chain_too_long"
  | "cert_untrusted"
  | "cert_signature_invalid"
  | "cert_expired"
  | "cert_not_yet_valid"
  | "cert_not_ca"
  | "cert_path_length"
  | "cert_key_usage"
  | "cert_critical_extension"
  | "cert_name_constraint"
  | "cert_unsupported_key"
  | "cert_spiffe_mismatch"
  | "cert_extension_missing"
  | "cert_sid_mismatch";

export class CertificateError extends Error {
  override readonly name = "CertificateError";
  constructor(
    readonly code: CertificateErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Local PKI material (issuer key/certificate, options) is unusable: a configuration problem, not a client one. */
export class PkiConfigError extends Error {
  override readonly name = "PkiConfigError";
}
