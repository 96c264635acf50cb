import type { Logger } from "@fame/logger";
import { batchOf, type Envelope } from "@fame/protocol";
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
  log.info(summary, "envelope");
}
