/**
 * OpenSSL's words for a server certificate that does not chain to the trust bundle (node puts
 * them in the error message; its codes differ between a handshake and a request).
 */
const UNTRUSTED =
  /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate has expired|certificate is not yet valid|Hostname\/IP does not match certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID/i;

/**
 * When `message` says the server's certificate was refused, what to check: the service is up
 * and answering, so "is it running?" would send the user the wrong way. Undefined otherwise.
 */
export function trustProblem(message: string): string | undefined {
  if (!UNTRUSTED.test(message)) return undefined;
  return TRUST_HINT;
}

const TRUST_HINT =
  "the server answered, but its certificate does not chain to FAME_CA_CERTS: point FAME_CA_CERTS at the fabric's trust bundle (certs/trust-bundle.pem; `fame env` prints it), and restart a node that was running when the fabric's PKI was made anew: it read the bundle at its start";

/**
 * `message` with the trust problem it names added in parentheses (once: a message that carries
 * the hint already, from a lower layer, is returned as it is); unchanged for any other failure.
 */
export function withTrustHint(message: string): string {
  const trust = trustProblem(message);
  return trust === undefined || message.includes(trust) ? message : `${message} (${trust})`;
}
