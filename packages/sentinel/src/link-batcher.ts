/** The socket under a WebSocket: corked while one turn's messages are written. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

const OPEN = 0x5b;
const COMMA = 0x2c;
const CLOSE = 0x5d;

/**
 * A connection's way out. Until the node offers link batches, every frame is one WebSocket
 * message and the turn's messages share one TLS write (the socket is corked at the turn's first
 * and uncorked from process.nextTick). Once batching is on, the turn's frames are held (in one
 * reused array) and leave from process.nextTick: a lone frame as it is, several as batches of
 * at most `maxEntries` entries and `maxBytes` bytes; reaching `maxEntries` flushes
 * at once. Frames keep their bytes: a forwarded frame's received Buffer is copied into the
 * batch, never re-encoded.
 */
export class LinkBatcher {
  private maxEntries = 0;
  private maxBytes = 0;
  private corked = false;
  private scheduled = false;
  private readonly pending: (string | Buffer)[] = [];
  private readonly uncorkNow = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly socket: Corkable,
    /** writes one text message */
    private readonly write: (data: string | Buffer) => void,
  ) {}

  /** batches of up to `maxEntries` (2 or more) and `maxBytes` from now on */
  batchTo(maxEntries: number, maxBytes: number): void {
    this.maxEntries = Math.max(2, maxEntries);
    this.maxBytes = maxBytes;
  }

  send(data: string | Buffer): void {
    if (this.maxEntries === 0) {
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(this.uncorkNow);
      }
      this.write(data);
      return;
    }
    const pending = this.pending;
    pending.push(data);
    if (pending.length >= this.maxEntries) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushNow);
    }
  }

  /**
   * Before a binary message (a sealed record, never batched): what is held leaves first, so the
   * record keeps its place, and the turn's writes stay corked together.
   */
  beforeBinary(): void {
    this.flush();
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncorkNow);
    }
  }

  /** writes what is held (alone, or as batches within the bounds): at the turn's end, and before a close */
  flush(): void {
    const pending = this.pending;
    const n = pending.length;
    if (n === 0) return;
    if (n === 1) {
      this.write(pending[0]!);
      pending.length = 0;
      return;
    }
    this.socket.cork();
    let from = 0;
    let bytes = 1;
    for (let i = 0; i < n; i++) {
      const size = byteSize(pending[i]!);
      // +1: the comma or closing bracket after the entry
      if (i > from && bytes + size + 1 > this.maxBytes) {
        this.writeGroup(from, i, bytes);
        from = i;
        bytes = 1;
      }
      bytes += size + 1;
    }
    this.writeGroup(from, n, bytes);
    pending.length = 0;
    this.socket.uncork();
  }

  /** pending[from, to) as one message of `bytes` bytes (a single entry goes alone) */
  private writeGroup(from: number, to: number, bytes: number): void {
    const pending = this.pending;
    if (to - from === 1) {
      this.write(pending[from]!);
      return;
    }
    const out = Buffer.allocUnsafe(bytes);
    out[0] = OPEN;
    let at = 1;
    for (let i = from; i < to; i++) {
      const entry = pending[i]!;
      at += typeof entry === "string" ? out.write(entry, at, "utf8") : entry.copy(out, at);
      out[at++] = i === to - 1 ? CLOSE : COMMA;
    }
    this.write(out);
  }
}

function byteSize(data: string | Buffer): number {
  return typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length;
}
