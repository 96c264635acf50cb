import { type CryptoBackend, defaultBackend, type Ed25519VerifyKey } from "@fame/crypto";
import { base64urlDecode, type Envelope, ed25519KeyId, type Jwk, signingInput } from "@fame/protocol";
import type { CallerIdentity } from "../rpc/call-context.js";

export interface PeerKey {
  kid: string;
  /** sid of the node the key belongs to: an envelope's sid must match */
  sid: string;
  verifyKey: Ed25519VerifyKey;
  publicKey: Uint8Array;
  /** ms epoch after which the key is no longer trusted (certificate expiry) */
  notAfter: number;
  /** logicals the key's certificate grants; undefined when keys carry no certificate (overlay) */
  logicals?: string[] | undefined;
  /** who the key proves a sender is, as operations see it (one frozen object per key) */
  caller: CallerIdentity;
}

/** what vetting a key established about its owner */
export interface VettedKey {
  sid: string;
  notAfter: number;
  logicals?: string[] | undefined;
  systemId?: string | undefined;
  spiffeId?: string | undefined;
  principal?: string | undefined;
}

/** Checks a presented key: in strict-overlay its chain must lead to our trust bundle and name `sid`. */
export type KeyVetter = (jwk: Jwk, claimedSid: string) => Promise<VettedKey>;

export type VerifyOutcome = "ok" | "unknown_key" | "bad_signature" | "unsigned" | "sid_mismatch";

/**
 * Keys of other nodes, learned through KeyAnnounce and vetted before use, so a
 * sentinel cannot slip in a key of its own: end-to-end verification.
 */
export class PeerKeyDirectory {
  private readonly keys = new Map<string, PeerKey>();
  /** the key last learned for each sid: what identity a channel peer or sender has */
  private readonly bySid = new Map<string, PeerKey>();
  private readonly pending = new Map<string, Promise<PeerKey | undefined>>();

  constructor(
    private readonly vet: KeyVetter,
    private readonly backend: CryptoBackend = defaultBackend(),
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  get(kid: string): PeerKey | undefined {
    const key = this.keys.get(kid);
    if (key && key.notAfter <= this.now()) {
      this.drop(kid, key);
      return undefined;
    }
    return key;
  }

  /** the identity a verified sender `sid` has, from its key's certificate; undefined if unknown */
  identityOf(sid: string): CallerIdentity | undefined {
    return this.bySid.get(sid)?.caller;
  }

  private drop(kid: string, key: PeerKey): void {
    this.keys.delete(kid);
    if (this.bySid.get(key.sid) !== key) return;
    this.bySid.delete(key.sid);
    // Another live key of the same node still says who it is: a node that held two keys must
    // not lose its identity (and the principal its calls are counted under) when one expires
    // (audit round 15). A scan, on the rare drop of a node's latest key only.
    const now = this.now();
    for (const other of this.keys.values())
      if (other.sid === key.sid && other.notAfter > now) {
        this.bySid.set(key.sid, other);
        return;
      }
  }

  /** vets and stores announced keys; returns those accepted */
  async learn(jwks: Jwk[], sid: string): Promise<PeerKey[]> {
    const out: PeerKey[] = [];
    for (const jwk of jwks) {
      if (jwk.crv !== "Ed25519") continue;
      try {
        const publicKey = base64urlDecode(jwk.x);
        // a kid is its key's own (ed25519KeyId): a key announced under another key's id would
        // take that id's place in this cache and fail the real owner's signatures
        if (publicKey.length !== 32 || jwk.kid !== ed25519KeyId(publicKey)) continue;
        const vetted = await this.vet(jwk, sid);
        const key: PeerKey = {
          kid: jwk.kid,
          sid: vetted.sid,
          publicKey,
          verifyKey: this.backend.ed25519ImportVerifyKey(publicKey),
          notAfter: vetted.notAfter,
          logicals: vetted.logicals,
          caller: Object.freeze({
            sid: vetted.sid,
            ...(vetted.systemId === undefined ? {} : { systemId: vetted.systemId }),
            ...(vetted.spiffeId === undefined ? {} : { spiffeId: vetted.spiffeId }),
            ...(vetted.principal === undefined ? {} : { principal: vetted.principal }),
            ...(vetted.logicals === undefined ? {} : { logicals: Object.freeze([...vetted.logicals]) }),
          }),
        };
        // a re-announced kid replaces its entry: no room to make
        if (!this.keys.has(jwk.kid) && this.keys.size >= this.maxKeys) {
          const oldest = this.keys.entries().next().value;
          if (oldest !== undefined) this.drop(oldest[0], oldest[1]);
        }
        this.keys.set(jwk.kid, key);
        this.bySid.set(key.sid, key);
        out.push(key);
      } catch {
        // an unacceptable key is simply not learned; the envelope using it fails verification
      }
    }
    return out;
  }

  /** resolves a kid once, however many envelopes wait for it */
  resolve(kid: string, fetch: () => Promise<PeerKey | undefined>): Promise<PeerKey | undefined> {
    const known = this.get(kid);
    if (known) return Promise.resolve(known);
    let p = this.pending.get(kid);
    if (!p) {
      p = fetch().finally(() => this.pending.delete(kid));
      this.pending.set(kid, p);
    }
    return p;
  }

  verify(env: Envelope, key: PeerKey): VerifyOutcome {
    const sig = env.sec?.sig;
    if (!sig) return "unsigned";
    if (key.sid !== env.sid) return "sid_mismatch";
    let bytes: Uint8Array;
    try {
      bytes = base64urlDecode(sig.val);
    } catch {
      return "bad_signature";
    }
    return this.backend.ed25519Verify(key.verifyKey, signingInput(env), bytes) ? "ok" : "bad_signature";
  }
}
