import { batchOf, type Envelope, recordBytes } from "@fame/protocol";

/**
 * What FAME_SHOW_ENVELOPES prints: headers and security metadata always, the
 * payload only when it travels in clear (a sealed payload stays sealed).
 */
export function describeEnvelope(dir: "send" | "recv", env: Envelope): Record<string, unknown> {
  const out: Record<string, unknown> = { dir, type: env.frame.type, id: env.id, sid: env.sid };
  if (env.to) out["to"] = env.to;
  if (env.replyTo) out["replyTo"] = env.replyTo;
  if (env.corrId) out["corrId"] = env.corrId;
  // a coalesced record: the conversations it carries
  const batch = batchOf(env);
  if (batch) out["batch"] = batch.map((e) => (e.more ? `${e.corrId}+` : e.corrId));
  if (env.sec?.sig) out["sig"] = { alg: env.sec.sig.alg, kid: env.sec.sig.kid };
  if (env.sec?.enc) out["enc"] = { alg: env.sec.enc.alg, cid: env.sec.enc.cid, seq: env.sec.enc.seq };
  if (env.aft) out["aft"] = "present";
  const f = env.frame;
  if (f.type === "Data") {
    if (f.codec === "json") out["payload"] = f.payload;
    else {
      // a binary record's ciphertext is bytes: its size, never its content
      const bytes = recordBytes(f);
      out["ct"] =
        bytes === undefined ? `${f.ct.length} chars sealed` : `${bytes.byteLength} bytes sealed (binary)`;
    }
  } else if (f.type === "DeliveryAck") {
    out["ok"] = f.ok;
    if (f.code) out["code"] = f.code;
  } else if ("cid" in f) out["cid"] = f.cid;
  if (env.meta) out["meta"] = env.meta;
  return out;
}
