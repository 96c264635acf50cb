/** What an operation learns about the call it is serving (its second argument). */
export interface CallContext {
  /** Correlation id of the request. */
  readonly corrId: string;
  /** Reply address of the caller. */
  readonly from: string;
  /** Address the agent is served at. */
  readonly address: string;
  /** Envelope metadata, as the connection layer passed it (untrusted strings). */
  readonly meta: Readonly<Record<string, string>>;
  /** Aborted when the caller cancels the stream, the callee times out, or the endpoint closes. */
  readonly signal: AbortSignal;
}
