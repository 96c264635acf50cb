import type { Socket } from "node:net";
import { trustContext } from "@fame/http-service/client";
import { withTrustHint } from "@fame/http-service/trust-problem";
import { RETRY_AFTER_MAX_SEC } from "@fame/identity";
import { encodeLinkBatch, LINK_BATCH_SEND_BYTES } from "@fame/protocol";
import WebSocket from "ws";
import { ConnectionError } from "./connection-error.js";
import type { LinkDialer, LinkHandlers, LinkTarget, NodeLink } from "./node-link.js";

/** How long a polite close may take before the socket is dropped. */
const CLOSE_GRACE_MS = 2000;

/** ws's generateMask hook: an all-zero masking key (see dialWebSocket) */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** seconds of a 429/503's Retry-After (the delay-seconds form, which the sentinel sends), clamped as admission's */
export function busyRetryAfterSec(
  status: number | undefined,
  header: string | undefined,
): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  if (header === undefined || !/^\d{1,9}$/.test(header.trim())) return undefined;
  return Math.min(Number(header.trim()), RETRY_AFTER_MAX_SEC);
}

/** Dials the sentinel's WebSocket endpoint: the production NodeLink. */
export const dialWebSocket: LinkDialer = (target: LinkTarget, handlers: LinkHandlers): Promise<NodeLink> => {
  const ws = new WebSocket(target.url, {
    // one context per trust bundle, not one per dial (each parses the whole bundle)
    ...(target.trustBundlePem ? { secureContext: trustContext(target.trustBundlePem) } : {}),
    perMessageDeflate: false,
    maxPayload: target.maxMessageBytes,
    handshakeTimeout: target.handshakeTimeoutMs,
    // RFC 6455 masks client frames so that a page's script cannot plant chosen bytes in a
    // cleartext proxy's view of the stream. Inside TLS no intermediary sees the frames and
    // this client is not a browser, so a zero key is used: ws then skips the XOR on both
    // ends (~10 % of the sentinel's CPU otherwise). Plain ws:// (development only) keeps random keys.
    ...(target.url.startsWith("wss://") ? { generateMask: zeroMask } : {}),
  });
  let socket: Socket | undefined;
  ws.once("upgrade", (res) => {
    socket = res.socket;
  });
  return new Promise<NodeLink>((resolve, reject) => {
    const onDialError = (err: Error): void => {
      reject(
        new ConnectionError("connect_failed", `${target.url}: ${withTrustHint(err.message)}`, { cause: err }),
      );
    };
    ws.once("error", onDialError);
    // The sentinel's attach gate answers a busy moment with 429 or 503 and Retry-After: kept
    // on the error, so a node waits as long as it was asked to (without this listener ws
    // reports only the status).
    ws.once("unexpected-response", (_req, res) => {
      const retryAfterSec = busyRetryAfterSec(res.statusCode, res.headers["retry-after"]);
      res.resume();
      reject(
        new ConnectionError(
          "connect_failed",
          `${target.url}: Unexpected server response: ${res.statusCode}`,
          {
            ...(retryAfterSec === undefined ? {} : { retryAfterSec }),
          },
        ),
      );
      // ends the handshake the way ws does (its error, already answered above, then close)
      ws.terminate();
    });
    ws.once("open", () => {
      ws.off("error", onDialError);
      resolve(new WsLink(ws, socket, target.url, handlers));
    });
  });
};

/**
 * A WebSocket to the sentinel. Everything sent in one turn of the event loop (a burst of
 * replies, stream items) leaves in one TLS write: the socket is corked on the turn's first
 * send and uncorked from process.nextTick.
 * Not exported: its declaration would name ws's types, which SDK users do not install.
 */
class WsLink implements NodeLink {
  private corked = false;
  /** 0 until the sentinel takes link batches; then the most entries one batch holds */
  private maxEntries = 0;
  private scheduled = false;
  /** this turn's envelopes while batching (one array, reused every turn) */
  private readonly pending: string[] = [];
  private readonly flushPending = (): void => {
    this.scheduled = false;
    this.writePending();
  };

  constructor(
    private readonly ws: WebSocket,
    /** the TLS socket under `ws`, corked while one turn's frames are written */
    private readonly socket: Socket | undefined,
    readonly remote: string,
    handlers: LinkHandlers,
  ) {
    ws.on("message", (data: Buffer, isBinary: boolean) => handlers.onMessage(data, isBinary));
    ws.on("error", (err) => handlers.onError(err));
    ws.on("close", (code, reason) => handlers.onClose(code, reason.toString()));
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  batchTo(maxEntries: number): void {
    this.maxEntries = Math.max(2, maxEntries);
  }

  send(text: string): void {
    if (this.maxEntries > 0) {
      // held to the end of the turn (process.nextTick, when the cork would lift anyway): a
      // lone envelope leaves as it is, several as one batch; a full batch leaves at once, the
      // socket uncorked for it, so the sentinel starts on it while this turn goes on producing
      const pending = this.pending;
      pending.push(text);
      if (pending.length >= this.maxEntries) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flushPending);
      }
      return;
    }
    this.write(text);
  }

  sendBinary(data: Uint8Array): void {
    // what this turn holds goes first: a record never overtakes an envelope sent before it
    this.writePending();
    this.write(data);
  }

  /** this turn's held envelopes: alone, or as batches within LINK_BATCH_SEND_BYTES */
  private writePending(): void {
    const pending = this.pending;
    const n = pending.length;
    if (n === 0) return;
    if (n === 1) this.write(pending[0]!);
    else {
      let from = 0;
      let bytes = 1;
      for (let i = 0; i < n; i++) {
        const size = Buffer.byteLength(pending[i]!, "utf8");
        if (i > from && bytes + size + 1 > LINK_BATCH_SEND_BYTES) {
          this.writeGroup(from, i);
          from = i;
          bytes = 1;
        }
        bytes += size + 1;
      }
      this.writeGroup(from, n);
    }
    pending.length = 0;
  }

  private writeGroup(from: number, to: number): void {
    const pending = this.pending;
    if (to - from === 1) this.write(pending[from]!);
    else this.write(encodeLinkBatch(to - from === pending.length ? pending : pending.slice(from, to)));
  }

  /** a string leaves as a text message, bytes as a binary one (ws's default for each) */
  private write(text: string | Uint8Array): void {
    const socket = this.socket;
    if (socket && !this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.ws.send(text);
  }

  flush(): void {
    this.writePending();
    const socket = this.socket;
    if (!socket || !this.corked) return;
    // cork() counts: this pair leaves one level in place for the scheduled uncork
    socket.uncork();
    socket.cork();
  }

  close(code: number, reason: string): Promise<void> {
    const ws = this.ws;
    if (ws.readyState === WebSocket.OPEN) this.writePending();
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_GRACE_MS);
      ws.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(code, reason);
    });
  }

  terminate(): void {
    this.ws.terminate();
  }
}
