import type { Envelope } from "./envelope.js";
import { PROTOCOL_VERSION } from "./envelope.js";
import type { ErrorCode } from "./error-codes.js";
import type { DeliveryAck, Frame } from "./frames.js";
import { newId } from "./ids.js";

/** Everything of an envelope except what makeEnvelope fills in; `id`/`ts` may be given explicitly. */
export type EnvelopeInit<F extends Frame = Frame> = Omit<Envelope<F>, "v" | "id" | "ts"> &
  Partial<Pick<Envelope<F>, "id" | "ts">>;

/**
 * Fill `v`, a fresh `id` and `ts` (now). Members left `undefined` are dropped so the result
 * compares equal to its own decode. Does not validate: encodeEnvelope does that on send.
 */
export function makeEnvelope<F extends Frame>(init: EnvelopeInit<F>): Envelope<F> {
  const env: Record<string, unknown> = {
    v: PROTOCOL_VERSION,
    id: init.id ?? newId(),
    ts: init.ts ?? Date.now(),
  };
  // for-in rather than Object.entries: no array of pairs per envelope (init is a plain literal)
  const members = init as unknown as Record<string, unknown>;
  for (const key in members) {
    const value = members[key];
    if (value !== undefined && key !== "id" && key !== "ts") env[key] = value;
  }
  return env as unknown as Envelope<F>;
}

/** Who is answering: the nack travels under the answering party's sid, not the original sender's. */
export interface NackOrigin {
  sid: string;
  ts?: number;
}

/**
 * A negative DeliveryAck answering `env`: `refId` names the refused envelope, `corrId`
 * continues its conversation (its corrId, else its id), and it goes to `env.replyTo` when
 * set (otherwise the caller sends it back on the link it came from).
 */
export function nackFor(
  env: Envelope,
  code: ErrorCode,
  reason: string | undefined,
  from: NackOrigin,
): Envelope<DeliveryAck> {
  const frame: DeliveryAck = { type: "DeliveryAck", ok: false, refId: env.id, code };
  if (reason !== undefined && reason !== "") frame.reason = reason;
  return makeEnvelope<DeliveryAck>({
    sid: from.sid,
    ts: from.ts,
    to: env.replyTo,
    corrId: env.corrId ?? env.id,
    frame,
  });
}
