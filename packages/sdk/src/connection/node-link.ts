/**
 * The seam between a node's session with its sentinel (attach, signing, heartbeats: see
 * FabricConnection) and the transport under it. The session speaks only in whole text
 * messages; how they travel (WebSocket over TLS in production, in memory in tests) is the
 * link's business.
 */

/** What a link reports to the session that dialled it. */
export interface LinkHandlers {
  /** one message from the sentinel, as received; `binary`: a binary message (a sealed record) */
  onMessage(data: Uint8Array | string, binary?: boolean): void;
  /** the link is gone, whoever closed it; called once, and only for a link that was opened */
  onClose(code: number, reason: string): void;
  /** a transport error on an open link (onClose follows) */
  onError(err: Error): void;
}

/** One open link to a sentinel. */
export interface NodeLink {
  /** Queues one encoded envelope; never waits. */
  send(text: string): void;
  /** Queues one binary message (a sealed record, protocol's encodeBinaryRecord); absent: text only. */
  sendBinary?(data: Uint8Array): void;
  /** Writes out what this turn has sent so far instead of at the end of the turn. */
  flush(): void;
  /**
   * From now on, what one turn sends leaves as link batches of up to `maxEntries` entries
   * (the sentinel takes them). A link that cannot batch leaves it out.
   */
  batchTo?(maxEntries: number): void;
  /** Closes politely; resolves once closed, or after a grace period in which it was dropped. */
  close(code: number, reason: string): Promise<void>;
  /** Drops the link at once (a silent sentinel, a failed reattach). */
  terminate(): void;
  /** bytes queued but not yet written */
  readonly bufferedAmount: number;
  /** the far end, for logs */
  readonly remote: string;
}

/** Where and how to dial, as the session decided it. */
export interface LinkTarget {
  url: string;
  /** PEM roots that vouch for the sentinel's certificate; system roots when absent */
  trustBundlePem?: string | undefined;
  /** largest message the link accepts from the sentinel */
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
}

/** Opens a link; rejects (ConnectionError connect_failed) when none could be opened. */
export type LinkDialer = (target: LinkTarget, handlers: LinkHandlers) => Promise<NodeLink>;
