/**
 * How large one RPC message may be under the sentinel's frame limit (FAME_MAX_FRAME_BYTES,
 * announced at attach), and the error that says so. A message travels as the JSON text of a
 * JSON-RPC request or answer inside an envelope: in plaintext as is, on an encrypted channel
 * sealed (16-byte tag) and base64url-encoded (4 characters per 3 bytes). The envelope's own
 * headers (addresses, ids, timestamps, channel header, AFT) take the rest; ENVELOPE_RESERVE
 * is what they need with ordinary addresses and meta.
 */
export const ENVELOPE_RESERVE_BYTES = 2048;
const AEAD_TAG_BYTES = 16;

/** The largest JSON-RPC message (UTF-8 bytes) that fits a frame of `frameLimit` bytes. */
export function maxMessageBytes(frameLimit: number, sealed: boolean): number {
  const room = Math.max(0, frameLimit - ENVELOPE_RESERVE_BYTES);
  return sealed ? Math.max(0, Math.floor(room / 4) * 3 - AEAD_TAG_BYTES) : room;
}

/** The reason an oversized message fails with `frame_too_large`: the setting, the sizes, the way out. */
export function frameTooLargeReason(messageBytes: number, frameLimit: number, sealed: boolean): string {
  const how = sealed ? "on an encrypted channel (sealed, base64url: 4/3 of its size)" : "in plaintext";
  return (
    `message of ${messageBytes} bytes does not fit the fabric's frame limit ` +
    `FAME_MAX_FRAME_BYTES=${frameLimit} (set on the sentinel): ${how} a message may be up to ` +
    `${maxMessageBytes(frameLimit, sealed)} bytes; raise FAME_MAX_FRAME_BYTES or send less`
  );
}
