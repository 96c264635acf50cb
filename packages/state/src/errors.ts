/**
 * A write to the shared state could not be recorded: NATS is unreachable or did not answer in
 * time. Retryable; the sentinel answers the refused work with the code `state_unavailable`.
 */
export class StateUnavailableError extends Error {
  readonly code = "state_unavailable";
  readonly retryable = true;
  constructor(message = "shared state unavailable", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StateUnavailableError";
  }
}

export function isStateUnavailable(err: unknown): err is StateUnavailableError {
  return err instanceof StateUnavailableError;
}
