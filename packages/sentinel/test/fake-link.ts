import { Writable } from "node:stream";
import { createLogger } from "@fame/logger";
import { decodeEnvelope, type Envelope } from "@fame/protocol";
import type { Link } from "../src/index.js";

/** A sentinel test logger that prints nothing. */
export const quietLogger = createLogger({
  name: "sentinel-test",
  level: "warn",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

/** A connection without a socket: records what the sentinel sends and how it closed. */
export class FakeLink implements Link {
  readonly sent: Envelope[] = [];
  closed: { code: number; reason: string } | undefined;
  bufferedAmount = 0;
  constructor(readonly remote = "127.0.0.1:1") {}
  send(data: string | Buffer): void {
    this.sent.push(decodeEnvelope(typeof data === "string" ? data : data.toString()));
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  last(): Envelope {
    const env = this.sent.at(-1);
    if (!env) throw new Error("nothing sent");
    return env;
  }
  frames(type: string): Envelope[] {
    return this.sent.filter((e) => e.frame.type === type);
  }
}
