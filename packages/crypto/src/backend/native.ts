import * as nodeCrypto from "node:crypto";
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  getCiphers,
  hkdfSync,
  type KeyObject,
  randomBytes as nodeRandomBytes,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { assertBytes, isAllZero, view } from "../bytes.js";
import { CryptoError } from "../errors.js";
import {
  checkAeadArgs,
  checkHkdfLength,
  checkPrk,
  checkRandomLength,
  checkSealedLength,
  checkX25519Args,
  weakSharedSecret,
} from "./checks.js";
import { isAcceptableEd25519PublicKey } from "./ed25519-key-policy.js";
import {
  AEAD_TAG_LENGTH,
  type CryptoBackend,
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  type Ed25519KeyPair,
  type Ed25519SigningKey,
  type Ed25519VerifyKey,
  SHA256_LENGTH,
  type X25519KeyPair,
} from "./types.js";

// Node 20 has no raw import for Curve25519 keys. The portable way in is PKCS#8:
// a fixed DER prefix naming the OID 1.3.101.112 (Ed25519) or 1.3.101.110 (X25519),
// so the two differ only in the OID's last byte; the 32 secret bytes follow.
const pkcs8Prefix = (oidLastByte: "70" | "6e") =>
  new Uint8Array(Buffer.from(`302e020100300506032b65${oidLastByte}04220420`, "hex"));
const ED25519_PKCS8_PREFIX = pkcs8Prefix("70");
const X25519_PKCS8_PREFIX = pkcs8Prefix("6e");

/** Node's hkdfSync refuses longer info; longer info takes the HMAC path. */
const HKDF_SYNC_MAX_INFO = 1024;

function der(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  // SPKI DER of a Curve25519 key ends with the 32 raw bytes.
  return view(key.export({ format: "der", type: "spki" })).slice(-32);
}

type OkpCurve = "Ed25519" | "X25519";

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

function derPrivateKey(curve: OkpCurve, secret: Uint8Array): KeyObject {
  const prefix = curve === "Ed25519" ? ED25519_PKCS8_PREFIX : X25519_PKCS8_PREFIX;
  return createPrivateKey({ key: Buffer.from(der(prefix, secret)), format: "der", type: "pkcs8" });
}

// Node requires "x" in a private OKP JWK but builds the key from "d" alone, and
// JWK import is about ten times faster than PKCS#8 DER (OpenSSL's decoder
// framework is slow). That shortcut rests on behaviour Node does not document,
// so it is probed once against the DER path and only used when the two agree.
const PLACEHOLDER_X = base64url(new Uint8Array(32));

function jwkPrivateKey(curve: OkpCurve, secret: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: "OKP", crv: curve, d: base64url(secret), x: PLACEHOLDER_X },
    format: "jwk",
  });
}

function jwkImportMatchesDer(): boolean {
  try {
    const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const curve of ["Ed25519", "X25519"] as const) {
      const viaJwk = rawPublicKey(createPublicKey(jwkPrivateKey(curve, secret)));
      const viaDer = rawPublicKey(createPublicKey(derPrivateKey(curve, secret)));
      if (Buffer.compare(viaJwk, viaDer) !== 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

let privateKeyImport: ((curve: OkpCurve, secret: Uint8Array) => KeyObject) | undefined;

function privateKeyObject(curve: OkpCurve, secret: Uint8Array): KeyObject {
  privateKeyImport ??= jwkImportMatchesDer() ? jwkPrivateKey : derPrivateKey;
  return privateKeyImport(curve, secret);
}

/** Public keys need no shortcut: "x" is the key, and JWK beats SPKI DER the same way. */
function publicKeyObject(curve: OkpCurve, publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: curve, x: base64url(publicKey) }, format: "jwk" });
}

class NativeSigningKey implements Ed25519SigningKey {
  readonly backend = "native";
  readonly publicKey: Uint8Array;
  readonly keyObject: KeyObject;

  constructor(keyObject: KeyObject) {
    this.keyObject = keyObject;
    this.publicKey = rawPublicKey(createPublicKey(keyObject));
  }
}

class NativeVerifyKey implements Ed25519VerifyKey {
  readonly backend = "native";
  readonly publicKey: Uint8Array;
  /** Null when the key fails the strict policy: verify then always answers false. */
  readonly keyObject: KeyObject | null;

  constructor(publicKey: Uint8Array) {
    this.publicKey = publicKey.slice();
    let keyObject: KeyObject | null = null;
    if (isAcceptableEd25519PublicKey(publicKey)) {
      try {
        keyObject = publicKeyObject("Ed25519", publicKey);
      } catch {
        keyObject = null;
      }
    }
    this.keyObject = keyObject;
  }
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return view(createHmac("sha256", key).update(data).digest());
}

function expandWithHmac(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  for (let offset = 0, block = 1; offset < length; block++, offset += SHA256_LENGTH) {
    counter[0] = block;
    previous = view(createHmac("sha256", prk).update(previous).update(info).update(counter).digest());
    out.set(previous.subarray(0, Math.min(SHA256_LENGTH, length - offset)), offset);
  }
  return out;
}

/** True when this Node build has every algorithm the native back end uses. */
export function isNativeAvailable(): boolean {
  try {
    if (!getCiphers().includes("chacha20-poly1305")) return false;
    const probe = new Uint8Array(32);
    probe[0] = 1;
    nodeSign(null, probe, privateKeyObject("Ed25519", probe));
    rawPublicKey(createPublicKey(privateKeyObject("X25519", probe)));
    return true;
  } catch {
    return false;
  }
}

function asNativeSigningKey(key: Ed25519SigningKey): NativeSigningKey {
  if (key instanceof NativeSigningKey) return key;
  throw new CryptoError("bad_key", "signing key was not imported by the native back end");
}

function asNativeVerifyKey(key: Ed25519VerifyKey): NativeVerifyKey {
  if (key instanceof NativeVerifyKey) return key;
  throw new CryptoError("bad_key", "verify key was not imported by the native back end");
}

/** crypto.hash, the one-shot digest, when this node has it (added in 20.12) */
const nodeHash = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;

export function createNativeBackend(): CryptoBackend {
  const backend: CryptoBackend = {
    name: "native",

    randomBytes(length: number): Uint8Array {
      checkRandomLength(length);
      return view(nodeRandomBytes(length));
    },

    ed25519Keygen(): Ed25519KeyPair {
      const seed = backend.randomBytes(ED25519_SEED_LENGTH);
      return { seed, publicKey: backend.ed25519ImportSigningKey(seed).publicKey };
    },

    ed25519ImportSigningKey(seed: Uint8Array): Ed25519SigningKey {
      assertBytes(seed, "Ed25519 seed", ED25519_SEED_LENGTH, "bad_key");
      return new NativeSigningKey(privateKeyObject("Ed25519", seed));
    },

    ed25519ImportVerifyKey(publicKey: Uint8Array): Ed25519VerifyKey {
      assertBytes(publicKey, "Ed25519 public key", ED25519_PUBLIC_KEY_LENGTH, "bad_key");
      return new NativeVerifyKey(publicKey);
    },

    ed25519Sign(key: Ed25519SigningKey, message: Uint8Array): Uint8Array {
      assertBytes(message, "message");
      return view(nodeSign(null, message, asNativeSigningKey(key).keyObject));
    },

    ed25519Verify(key: Ed25519VerifyKey, message: Uint8Array, signature: Uint8Array): boolean {
      const { keyObject } = asNativeVerifyKey(key);
      if (keyObject === null) return false;
      if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
      try {
        return nodeVerify(null, message, keyObject, signature);
      } catch {
        return false;
      }
    },

    x25519Keygen(): X25519KeyPair {
      const secretKey = backend.randomBytes(32);
      return { secretKey, publicKey: backend.x25519PublicKey(secretKey) };
    },

    x25519PublicKey(secretKey: Uint8Array): Uint8Array {
      checkX25519Args(secretKey);
      return rawPublicKey(createPublicKey(privateKeyObject("X25519", secretKey)));
    },

    x25519SharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
      checkX25519Args(secretKey, peerPublicKey);
      let shared: Uint8Array;
      try {
        shared = view(
          diffieHellman({
            privateKey: privateKeyObject("X25519", secretKey),
            publicKey: publicKeyObject("X25519", peerPublicKey),
          }),
        );
      } catch (error) {
        // OpenSSL refuses to return an all-zero X25519 result; lengths were checked
        // above, so a derivation failure here means a low-order peer key.
        throw weakSharedSecret(error);
      }
      if (isAllZero(shared)) throw weakSharedSecret();
      return shared;
    },

    sha256(data: Uint8Array): Uint8Array {
      assertBytes(data, "data");
      // one-shot (node >= 20.12): no Hash object per call, which shows for short inputs
      return view(nodeHash ? nodeHash("sha256", data, "buffer") : createHash("sha256").update(data).digest());
    },

    hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
      assertBytes(key, "HMAC key", undefined, "bad_key");
      assertBytes(data, "data");
      return hmac(key, data);
    },

    hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
      assertBytes(salt, "HKDF salt");
      assertBytes(ikm, "HKDF ikm", undefined, "bad_key");
      // HMAC pads short keys with zeros, so an empty salt already equals HashLen zeros.
      return hmac(salt, ikm);
    },

    hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
      checkPrk(prk);
      assertBytes(info, "HKDF info");
      checkHkdfLength(length);
      return expandWithHmac(prk, info, length);
    },

    hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
      assertBytes(ikm, "HKDF ikm", undefined, "bad_key");
      assertBytes(salt, "HKDF salt");
      assertBytes(info, "HKDF info");
      checkHkdfLength(length);
      if (info.length > HKDF_SYNC_MAX_INFO) return expandWithHmac(hmac(salt, ikm), info, length);
      return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
    },

    aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
      checkAeadArgs(key, nonce, plaintext, aad);
      const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: AEAD_TAG_LENGTH });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      const body = cipher.update(plaintext);
      cipher.final();
      // Buffer.concat takes a small record from node's pool: a fresh ArrayBuffer per record
      // (new Uint8Array) cost more than the sealing of a short message itself
      return view(Buffer.concat([body, cipher.getAuthTag()], plaintext.length + AEAD_TAG_LENGTH));
    },

    aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
      checkAeadArgs(key, nonce, sealed, aad);
      checkSealedLength(sealed);
      const bodyLength = sealed.length - AEAD_TAG_LENGTH;
      const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: AEAD_TAG_LENGTH });
      decipher.setAuthTag(sealed.subarray(bodyLength));
      decipher.setAAD(aad, { plaintextLength: bodyLength });
      const body = decipher.update(sealed.subarray(0, bodyLength));
      try {
        decipher.final();
      } catch (error) {
        body.fill(0);
        throw new CryptoError("decrypt_failed", "AEAD authentication failed", { cause: error });
      }
      return view(body);
    },
  };
  return backend;
}
