import type { SecureChannel } from "../channel/secure-channel.js";

const MAX_CONVERSATIONS = 100_000;

/**
 * Which channel a conversation (corrId) uses, both as caller and as callee, so that every
 * message of a call travels on the channel it started on. Bounded: the oldest is forgotten.
 */
export class Conversations {
  private readonly byCorrId = new Map<string, SecureChannel>();

  get(corrId: string): SecureChannel | undefined {
    return this.byCorrId.get(corrId);
  }

  remember(corrId: string, ch: SecureChannel): void {
    if (this.byCorrId.size >= MAX_CONVERSATIONS) {
      const oldest = this.byCorrId.keys().next().value;
      if (oldest !== undefined) this.byCorrId.delete(oldest);
    }
    this.byCorrId.set(corrId, ch);
  }

  forget(corrId: string): void {
    this.byCorrId.delete(corrId);
  }
}
