/**
 * Server-sent events, parsed from text as it arrives: the page reads the stream with fetch()
 * (EventSource cannot send an Authorization header), so it parses the format itself. Only
 * what the sentinel sends is needed (`event:` and `data:` lines, blank-line terminated), but
 * comments, CRLF and multi-line data are handled per the format. No DOM: unit-tested in Node.
 */

export interface SseEvent {
  event: string;
  data: string;
}

/** a buffered partial event bigger than this is not one the sentinel sends: the stream is dropped */
export const MAX_SSE_EVENT_CHARS = 4 * 1024 * 1024;

export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];

  /** feeds a chunk of text; returns the events it completed */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    if (this.buffer.length > MAX_SSE_EVENT_CHARS) throw new RangeError("server-sent event too large");
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const sep = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      // a lone \r at the end of a chunk may be the first half of \r\n: wait for more
      if (sep === 1 && this.buffer[nl] === "\r" && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + sep);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ event: this.event || "message", data: this.data.join("\n") });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}
