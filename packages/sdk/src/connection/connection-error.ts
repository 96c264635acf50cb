/** A failure of the node's link or session with its sentinel; `code` is a fame error code. */
export class ConnectionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ConnectionError";
  }
}
