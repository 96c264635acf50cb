/**
 * Who sent a call, as the connection layer proved it: the session id under which the
 * sender's signature verified (plaintext) or with which it shook hands on the channel the
 * call came in on (sealed). The other fields come from the sender's certificate and are
 * there only when the key carried one (strict-overlay).
 */
export interface CallerIdentity {
  /** the sender's session id (its sentinel path, hashed): what streams and call slots are keyed by */
  readonly sid: string;
  /** the node's system id, from its certificate */
  readonly systemId?: string;
  /** the node's SPIFFE id (spiffe://<trust domain>/…), from its certificate */
  readonly spiffeId?: string;
  /** the logicals the certificate lets the node serve */
  readonly logicals?: readonly string[];
  /**
   * the OAuth2 client the node was admitted with, from its certificate (stated by the CA, not
   * the node); every process admitted with one credential has the same principal
   */
  readonly principal?: string;
}

/** What an operation learns about the call it is serving (its second argument). */
export interface CallContext {
  /** Correlation id of the request. */
  readonly corrId: string;
  /** Reply address of the caller. */
  readonly from: string;
  /**
   * The verified caller: decide what it may do from this, never from `from` or `meta`.
   * In-process transports without a network sender name the reply address as sid.
   */
  readonly caller: CallerIdentity;
  /** Address the agent is served at. */
  readonly address: string;
  /** Envelope metadata, as the connection layer passed it (untrusted strings). */
  readonly meta: Readonly<Record<string, string>>;
  /** Aborted when the caller cancels the stream, the callee times out, or the endpoint closes. */
  readonly signal: AbortSignal;
}
