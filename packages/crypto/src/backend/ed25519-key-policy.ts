// OpenSSL (native back end) verifies Ed25519 cofactorless and accepts public
// keys that noble's strict RFC 8032 mode rejects: non-canonical encodings
// (y >= p) and the small-order points, under which forged "signatures" such as
// (identity, 0) verify for any message. To keep the back ends in agreement and
// to refuse keys that no honest signer produces, native verify applies this
// policy first. Pure byte comparisons, so it costs nothing next to verify.

/**
 * y coordinates (little endian, sign bit cleared) of the eight points of order
 * dividing 8: 0 (order 4), 1 (identity), p-1 (order 2) and the two order-8 y values.
 * Any encoding with one of these y values is small order whatever the sign bit.
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
].map((hex) => Uint8Array.from(hex.match(/../g)!, (pair) => Number.parseInt(pair, 16)));

function yEquals(encoded: Uint8Array, y: Uint8Array): boolean {
  for (let i = 0; i < 31; i++) if (encoded[i] !== y[i]) return false;
  return (encoded[31]! & 0x7f) === y[31];
}

/** True when y (sign bit cleared) is >= p = 2^255 - 19, i.e. the encoding is not canonical. */
function yNotCanonical(encoded: Uint8Array): boolean {
  if ((encoded[31]! & 0x7f) !== 0x7f) return false;
  for (let i = 1; i < 31; i++) if (encoded[i] !== 0xff) return false;
  return encoded[0]! >= 0xed;
}

/** Whether a 32-byte Ed25519 public key is one strict RFC 8032 verification may accept. */
export function isAcceptableEd25519PublicKey(encoded: Uint8Array): boolean {
  if (encoded.length !== 32 || yNotCanonical(encoded)) return false;
  for (const y of SMALL_ORDER_Y) if (yEquals(encoded, y)) return false;
  return true;
}
