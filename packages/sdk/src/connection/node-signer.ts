import { type CryptoBackend, defaultBackend, type Ed25519SigningKey } from "@fame/crypto";
import { AftSigner } from "@fame/identity";
import { base64urlEncode, type Envelope, ed25519KeyId, type Jwk, signingInput } from "@fame/protocol";

/**
 * This node's signing identity: the Ed25519 key of its certificate (or a raw
 * key in the `overlay` profile). Signs every envelope it sends.
 */
export class NodeSigner {
  readonly kid: string;
  readonly jwk: Jwk;
  /** signs affinity tags (AFTs) with the same key, for channels this node accepts */
  readonly aftSigner: AftSigner;
  private readonly key: Ed25519SigningKey;

  constructor(
    seed: Uint8Array,
    x5c: string[] | undefined,
    private readonly backend: CryptoBackend = defaultBackend(),
  ) {
    this.key = backend.ed25519ImportSigningKey(seed);
    this.aftSigner = new AftSigner(seed);
    const pub = this.key.publicKey;
    // kid from the key itself: stable, unique per key, and checked by every receiver
    this.kid = ed25519KeyId(pub);
    this.jwk = { kty: "OKP", crv: "Ed25519", x: base64urlEncode(pub), kid: this.kid, use: "sig" };
    if (x5c && x5c.length > 0) this.jwk.x5c = x5c;
  }

  static generate(backend: CryptoBackend = defaultBackend()): NodeSigner {
    return new NodeSigner(backend.ed25519Keygen().seed, undefined, backend);
  }

  get publicKey(): Uint8Array {
    return this.key.publicKey;
  }

  /** signs in place: sets env.sec.sig over signingInput(env) */
  sign<E extends Envelope>(env: E): E {
    const sig = this.backend.ed25519Sign(this.key, signingInput(env));
    env.sec = { ...env.sec, sig: { alg: "EdDSA", kid: this.kid, val: base64urlEncode(sig) } };
    return env;
  }

  /** raw signature, for handshakes that sign their own transcript */
  signBytes(message: Uint8Array): Uint8Array {
    return this.backend.ed25519Sign(this.key, message);
  }
}
