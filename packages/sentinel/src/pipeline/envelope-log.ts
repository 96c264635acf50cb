import type { Logger } from "@fame/logger";
import { batchOf, type Envelope, recordBytes } from "@fame/protocol";
import type { NodeSession } from "../node-session.js";

/** One log line per envelope passing through (FAME_SHOW_ENVELOPES): a debugging aid, off by default. */
export function showEnvelope(log: Logger, dir: "in" | "out", session: NodeSession, env: Envelope): void {
  const frame = env.frame;
  const summary: Record<string, unknown> = {
    dir,
    peer: session.systemId || session.link.remote,
    type: frame.type,
    id: env.id,
    to: env.to,
    corrId: env.corrId,
  };
  if (env.sec?.sig) summary["sig"] = { alg: env.sec.sig.alg, kid: env.sec.sig.kid };
  if (env.sec?.enc) summary["enc"] = { alg: env.sec.enc.alg, cid: env.sec.enc.cid, seq: env.sec.enc.seq };
  const batch = batchOf(env);
  if (batch) summary["batch"] = batch.map((e) => (e.more ? `${e.corrId}+` : e.corrId));
  if (frame.type === "Data" && frame.codec === "json") summary["payload"] = frame.payload;
  else if (frame.type === "Data") {
    // the size of what is sealed, never its bytes (a binary record's ciphertext is bytes)
    const bytes = recordBytes(frame);
    summary["ct"] = bytes === undefined ? `${frame.ct.length} chars` : `${bytes.byteLength} bytes (binary)`;
  }
  log.info(summary, "envelope");
}
