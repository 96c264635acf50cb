import type { Socket } from "node:net";
import WebSocket from "ws";
import { ConnectionError } from "./connection-error.js";
import type { LinkDialer, LinkHandlers, LinkTarget, NodeLink } from "./node-link.js";

/** How long a polite close may take before the socket is dropped. */
const CLOSE_GRACE_MS = 2000;

/** ws's generateMask hook: an all-zero masking key (see dialWebSocket) */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** Dials the sentinel's WebSocket endpoint: the production NodeLink. */
export const dialWebSocket: LinkDialer = (target: LinkTarget, handlers: LinkHandlers): Promise<NodeLink> => {
  const ws = new WebSocket(target.url, {
    ...(target.trustBundlePem ? { ca: target.trustBundlePem } : {}),
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
      reject(new ConnectionError("connect_failed", `${target.url}: ${err.message}`));
    };
    ws.once("error", onDialError);
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

  send(text: string): void {
    this.write(text);
  }

  sendBinary(data: Uint8Array): void {
    this.write(data);
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
    const socket = this.socket;
    if (!socket || !this.corked) return;
    // cork() counts: this pair leaves one level in place for the scheduled uncork
    socket.uncork();
    socket.cork();
  }

  close(code: number, reason: string): Promise<void> {
    const ws = this.ws;
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
