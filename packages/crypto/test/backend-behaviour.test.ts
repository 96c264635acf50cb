import { ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isAcceptableEd25519PublicKey } from "../src/backend/ed25519-key-policy.js";
import {
  BACKEND_ENV_VAR,
  defaultBackend,
  fromHex,
  getBackend,
  HKDF_SHA256_MAX_LENGTH,
  isBackendAvailable,
  sha256,
  toHex,
  utf8Bytes,
} from "../src/index.js";
import { codeOf } from "./error-code.js";

const backends = [getBackend("native"), getBackend("noble")];

function littleEndian32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

const P = 2n ** 255n - 19n;
/** Ed25519 group order L. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

// Encodings of the small-order Ed25519 points, canonical and not: y in
// {0, 1, p-1, the two order-8 y values}, either sign bit, plus y + p where it fits.
const SMALL_ORDER_Y = [
  0n,
  1n,
  P - 1n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n,
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n,
];
const SMALL_ORDER_ENCODINGS = SMALL_ORDER_Y.flatMap((y) => {
  const variants = [y, y | (1n << 255n)];
  if (y + P < 2n ** 255n) variants.push(y + P, (y + P) | (1n << 255n));
  return variants.map(littleEndian32);
});

// X25519 u-coordinates of low order (and their non-canonical / high-bit aliases).
const LOW_ORDER_U = [
  0n,
  1n,
  P - 1n,
  P,
  P + 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  1n << 255n,
  (1n << 255n) | 1n,
].map(littleEndian32);

describe.each(backends)("$name back end: behaviour at the edges", (backend) => {
  const seed = fromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  const signer = backend.ed25519ImportSigningKey(seed);
  const verifier = backend.ed25519ImportVerifyKey(signer.publicKey);
  const msg = utf8Bytes("fame");
  const sig = backend.ed25519Sign(signer, msg);

  it("keygen outputs are consistent with import and derivation", () => {
    const ed = backend.ed25519Keygen();
    expect(ed.seed).toHaveLength(32);
    expect(backend.ed25519ImportSigningKey(ed.seed).publicKey).toEqual(ed.publicKey);
    const x = backend.x25519Keygen();
    expect(backend.x25519PublicKey(x.secretKey)).toEqual(x.publicKey);
  });

  it("verify answers false, never throws, for malformed signatures and messages", () => {
    expect(backend.ed25519Verify(verifier, msg, sig)).toBe(true);
    for (const length of [0, 1, 63, 65, 128]) {
      expect(backend.ed25519Verify(verifier, msg, new Uint8Array(length))).toBe(false);
    }
    expect(backend.ed25519Verify(verifier, msg, sig.subarray(0, 63))).toBe(false);
    expect(backend.ed25519Verify(verifier, msg, "nope" as unknown as Uint8Array)).toBe(false);
    expect(backend.ed25519Verify(verifier, null as unknown as Uint8Array, sig)).toBe(false);
    expect(backend.ed25519Verify(verifier, utf8Bytes("fame!"), sig)).toBe(false);
  });

  it("rejects the malleable S + L form of a valid signature", () => {
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    const malleable = sig.slice();
    malleable.set(littleEndian32(s + L), 32);
    expect(backend.ed25519Verify(verifier, msg, malleable)).toBe(false);
  });

  it("rejects forgeries under small-order and non-canonical public keys", () => {
    const identity = littleEndian32(1n);
    for (const publicKey of SMALL_ORDER_ENCODINGS) {
      const key = backend.ed25519ImportVerifyKey(publicKey);
      for (let i = 0; i < 16; i++) {
        for (const r of SMALL_ORDER_ENCODINGS.slice(0, 10)) {
          const forged = new Uint8Array(64);
          forged.set(r);
          expect(backend.ed25519Verify(key, Uint8Array.of(i), forged)).toBe(false);
        }
        const forged = new Uint8Array(64);
        forged.set(identity);
        expect(backend.ed25519Verify(key, Uint8Array.of(i), forged)).toBe(false);
      }
    }
  });

  it("rejects keys of the wrong length and handles from the other back end", () => {
    expect(codeOf(() => backend.ed25519ImportSigningKey(new Uint8Array(31)))).toBe("bad_key");
    expect(codeOf(() => backend.ed25519ImportVerifyKey(new Uint8Array(33)))).toBe("bad_key");
    const other = getBackend(backend.name === "native" ? "noble" : "native");
    const foreignSigner = other.ed25519ImportSigningKey(seed);
    const foreignVerifier = other.ed25519ImportVerifyKey(signer.publicKey);
    expect(codeOf(() => backend.ed25519Sign(foreignSigner, msg))).toBe("bad_key");
    expect(codeOf(() => backend.ed25519Verify(foreignVerifier, msg, sig))).toBe("bad_key");
  });

  it("X25519 refuses low-order peer keys with weak_shared_secret", () => {
    const secret = backend.x25519Keygen().secretKey;
    for (const u of LOW_ORDER_U) {
      expect(
        codeOf(() => backend.x25519SharedSecret(secret, u)),
        toHex(u),
      ).toBe("weak_shared_secret");
    }
    expect(codeOf(() => backend.x25519SharedSecret(secret, new Uint8Array(31)))).toBe("bad_key");
    expect(codeOf(() => backend.x25519PublicKey(new Uint8Array(16)))).toBe("bad_key");
  });

  it("AEAD: empty plaintext round-trips; bad tag, wrong key, short input and bad lengths are typed", () => {
    const key = backend.randomBytes(32);
    const nonce = backend.randomBytes(12);
    const aad = utf8Bytes("hdr");
    const sealed = backend.aeadSeal(key, nonce, new Uint8Array(0), aad);
    expect(sealed).toHaveLength(16);
    expect(backend.aeadOpen(key, nonce, sealed, aad)).toHaveLength(0);
    expect(codeOf(() => backend.aeadOpen(backend.randomBytes(32), nonce, sealed, aad))).toBe(
      "decrypt_failed",
    );
    expect(codeOf(() => backend.aeadOpen(key, nonce, sealed, utf8Bytes("HDR")))).toBe("decrypt_failed");
    expect(codeOf(() => backend.aeadOpen(key, nonce, sealed.subarray(0, 15), aad))).toBe("decrypt_failed");
    expect(codeOf(() => backend.aeadSeal(key.subarray(0, 16), nonce, sealed, aad))).toBe("bad_key");
    expect(codeOf(() => backend.aeadSeal(key, new Uint8Array(24), sealed, aad))).toBe("bad_input");
  });

  it("HKDF rejects out-of-range lengths and short PRKs", () => {
    const ikm = utf8Bytes("ikm");
    expect(codeOf(() => backend.hkdf(ikm, new Uint8Array(0), new Uint8Array(0), 0))).toBe("bad_input");
    expect(
      codeOf(() => backend.hkdf(ikm, new Uint8Array(0), new Uint8Array(0), HKDF_SHA256_MAX_LENGTH + 1)),
    ).toBe("bad_input");
    expect(backend.hkdf(ikm, new Uint8Array(0), new Uint8Array(0), HKDF_SHA256_MAX_LENGTH)).toHaveLength(
      HKDF_SHA256_MAX_LENGTH,
    );
    expect(codeOf(() => backend.hkdfExpand(new Uint8Array(31), new Uint8Array(0), 32))).toBe("bad_key");
  });

  it("randomBytes returns the requested length, including beyond the 64 KiB Web Crypto quota", () => {
    expect(backend.randomBytes(0)).toHaveLength(0);
    const big = backend.randomBytes(70_000);
    expect(big).toHaveLength(70_000);
    expect(big.subarray(65_536).some((b) => b !== 0)).toBe(true);
    expect(codeOf(() => backend.randomBytes(-1))).toBe("bad_input");
  });
});

describe("back end selection", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("returns the named back ends, native by default on Node", () => {
    expect(isBackendAvailable("native")).toBe(true);
    expect(getBackend("native").name).toBe("native");
    expect(getBackend("noble").name).toBe("noble");
    vi.stubEnv(BACKEND_ENV_VAR, "");
    expect(defaultBackend().name).toBe("native");
  });

  it(`honours ${BACKEND_ENV_VAR}`, () => {
    vi.stubEnv(BACKEND_ENV_VAR, "noble");
    expect(defaultBackend().name).toBe("noble");
    vi.stubEnv(BACKEND_ENV_VAR, "native");
    expect(defaultBackend().name).toBe("native");
  });

  it("names the variable when its value is invalid", () => {
    vi.stubEnv(BACKEND_ENV_VAR, "openssl");
    expect(() => defaultBackend()).toThrow(/FAME_CRYPTO_BACKEND.*openssl/);
    expect(codeOf(() => defaultBackend())).toBe("bad_config");
    expect(codeOf(() => getBackend("rust" as "native"))).toBe("bad_config");
  });

  it("keeps the package-level sha256 export", () => {
    expect(toHex(sha256(utf8Bytes("")))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});

describe("native Ed25519 public-key policy", () => {
  it("rejects every small-order encoding and noble's torsion list, accepts honest keys", () => {
    for (const encoding of SMALL_ORDER_ENCODINGS) expect(isAcceptableEd25519PublicKey(encoding)).toBe(false);
    for (const hex of ED25519_TORSION_SUBGROUP)
      expect(isAcceptableEd25519PublicKey(fromHex(hex))).toBe(false);
    // y = p + 5 is a non-canonical encoding of y = 5.
    expect(isAcceptableEd25519PublicKey(littleEndian32(P + 5n))).toBe(false);
    const noble = getBackend("noble");
    for (let i = 0; i < 50; i++)
      expect(isAcceptableEd25519PublicKey(noble.ed25519Keygen().publicKey)).toBe(true);
  });
});
