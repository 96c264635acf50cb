import { type CryptoBackend, defaultBackend } from "@fame/crypto";
import {
  base64urlDecode,
  type Envelope,
  type ErrorCode,
  ed25519KeyId,
  type Jwk,
  type NodeAttach,
  sidFromPath,
  signingInput,
} from "@fame/protocol";
import { isStateUnavailable } from "@fame/state";
import type { NodeKey } from "./node-session.js";
import { sameSecret } from "./same-secret.js";
import type { AdmissionProfile, SecurityProfile } from "./sentinel-config.js";
import type { SharedState } from "./shared-state.js";

/** What a verified attach ticket says about the node (Welcome's decision). */
export interface TicketGrant {
  systemId: string;
  instanceId: string;
  assignedPath: string;
  acceptedLogicals: string[];
  /** the OAuth2 client Welcome admitted the node with (the ticket's `client_id`), if it says */
  clientId?: string | undefined;
  /** unique id of the ticket, for single use */
  jti: string;
  /** seconds since epoch */
  exp: number;
}

/** What a verified certificate chain says about its key. */
export interface VerifiedChain {
  systemId: string;
  sid: string;
  path: string;
  logicals: string[];
  publicKey: Uint8Array;
  notAfter: Date;
}

export interface AttachVerifiers {
  /** throws with a message when the ticket is not valid for this sentinel */
  verifyTicket(ticket: string): Promise<TicketGrant>;
  /** throws when the chain does not lead to the trust bundle or names another node */
  verifyChain(x5c: string[], expectedSystemId: string): Promise<VerifiedChain>;
  /** true the first time a ticket id is seen (until it expires) */
  firstUse(jti: string, instanceId: string, expSec: number): boolean;
}

export type AttachDecision =
  | {
      ok: true;
      systemId: string;
      instanceId: string;
      assignedPath: string;
      sid: string;
      acceptedLogicals: string[];
      keys: NodeKey[];
      /** the access policy's name for the node: its OAuth2 client id, else its SPIFFE id */
      principal: string;
      /**
       * Who holds the credential the node was admitted with, for bounds that one holder's many
       * nodes share: its OAuth2 client id; nodes of the shared direct token, of admission none,
       * or of a ticket naming no client share one key per profile (their system ids are their own
       * choice, so they cannot stand for the holder).
       */
      credential: string;
    }
  | { ok: false; code: ErrorCode; reason: string };

export interface AttachAuthorityOptions {
  sentinelId: string;
  securityProfile: SecurityProfile;
  admissionProfile: AdmissionProfile;
  directToken?: string | undefined;
  /** names nodes admitted without a Welcome ticket: spiffe://<trustDomain>/nodes/<systemId>; default fame.fabric */
  trustDomain?: string | undefined;
  verifiers?: AttachVerifiers;
  backend?: CryptoBackend;
  /**
   * A cluster's shared state: nodes are placed under `/<clusterId>/` (tickets of the cluster are
   * valid at every sentinel of it) and a ticket is spent in the cluster-wide ledger, so it works
   * once across all sentinels. Undefined: one sentinel, paths under `/<sentinelId>/`.
   */
  shared?: SharedState | undefined;
}

const refuse = (code: ErrorCode, reason: string): AttachDecision => ({ ok: false, code, reason });

/**
 * Decides whether a NodeAttach may join: admission (who placed this node and
 * what it may serve) and, in the overlay profiles, proof that the node holds
 * the key it presents (the attach envelope is signed by it).
 */
export class AttachAuthority {
  private readonly backend: CryptoBackend;
  /** the first segment every path placed under this sentinel (or its cluster) starts with */
  private readonly ownPrefix: string;

  constructor(private readonly opts: AttachAuthorityOptions) {
    this.backend = opts.backend ?? defaultBackend();
    this.ownPrefix = `/${opts.shared?.clusterId ?? opts.sentinelId}/`;
    if (opts.admissionProfile === "welcome" && !opts.verifiers)
      throw new Error("welcome admission needs verifiers");
    if (opts.securityProfile === "strict-overlay" && !opts.verifiers)
      throw new Error("strict-overlay needs verifiers");
  }

  async decide(env: Envelope<NodeAttach>): Promise<AttachDecision> {
    const frame = env.frame;
    // A node the cluster cannot record (ticket, directory) would be known to this sentinel only.
    const down = this.opts.shared?.refusal("attach");
    if (down !== undefined) return refuse(down.code, down.reason);
    let grant: { systemId: string; instanceId: string; assignedPath: string; acceptedLogicals: string[] };
    let ticketToSpend: TicketGrant | undefined;
    let clientId: string | undefined;
    switch (this.opts.admissionProfile) {
      case "welcome": {
        if (!frame.attachTicket) return refuse("ticket_invalid", "attach ticket required");
        let ticket: TicketGrant;
        try {
          ticket = await this.opts.verifiers!.verifyTicket(frame.attachTicket);
        } catch (err) {
          return refuse("ticket_invalid", `attach ticket refused: ${(err as Error).message}`);
        }
        if (ticket.systemId !== frame.systemId)
          return refuse("ticket_invalid", "ticket names another systemId");
        if (ticket.instanceId !== frame.instanceId)
          return refuse("ticket_invalid", "ticket names another instanceId");
        // Sentinels may share a ticket audience; a ticket places its node under one of them
        // (or, in a cluster, under the cluster) only.
        if (!ticket.assignedPath.startsWith(this.ownPrefix))
          return refuse(
            "ticket_invalid",
            this.opts.shared
              ? `ticket was issued for another cluster, not ${this.opts.shared.clusterId}`
              : `ticket was issued for another sentinel, not ${this.opts.sentinelId}`,
          );
        grant = ticket;
        ticketToSpend = ticket;
        clientId = ticket.clientId;
        break;
      }
      case "direct": {
        if (!frame.attachTicket || !sameSecret(frame.attachTicket, this.opts.directToken ?? "")) {
          return refuse("ticket_invalid", "static attach token does not match");
        }
        grant = this.selfGrant(frame);
        break;
      }
      case "none":
        grant = this.selfGrant(frame);
        break;
    }
    for (const logical of frame.logicals) {
      if (!grant.acceptedLogicals.includes(logical)) {
        return refuse("logical_not_granted", `logical ${logical} was not granted to this node`);
      }
    }
    const sid = sidFromPath(grant.assignedPath);
    const keys = await this.keysOf(env, grant, sid);
    if (!Array.isArray(keys)) return keys;
    // Spent only once the attach has proven everything else: a forged attach
    // (someone else's ticket, no key) must not burn the owner's ticket.
    if (ticketToSpend) {
      const spent = await this.spend(ticketToSpend);
      if (spent === false) return refuse("ticket_replayed", "attach ticket already used");
      if (spent !== true) return spent;
    }
    return {
      ok: true,
      systemId: grant.systemId,
      instanceId: grant.instanceId,
      assignedPath: grant.assignedPath,
      sid,
      acceptedLogicals: frame.logicals,
      keys,
      principal: clientId ?? `spiffe://${this.opts.trustDomain ?? "fame.fabric"}/nodes/${grant.systemId}`,
      credential: clientId !== undefined ? `client:${clientId}` : `admission:${this.opts.admissionProfile}`,
    };
  }

  /**
   * True the first time the ticket is used: in this sentinel's replay guard, or in a cluster the
   * ledger every sentinel shares (the KV decides; of two sentinels racing, one wins). A refusal
   * when the ledger cannot record it.
   */
  private async spend(ticket: TicketGrant): Promise<boolean | AttachDecision> {
    const shared = this.opts.shared;
    if (shared === undefined) return this.opts.verifiers!.firstUse(ticket.jti, ticket.instanceId, ticket.exp);
    try {
      return await shared.fabric.tickets.spend(ticket.jti, ticket.exp * 1000);
    } catch (err) {
      if (!isStateUnavailable(err)) throw err;
      const r = shared.refuse("attach");
      return refuse(r.code, r.reason);
    }
  }

  /** direct/none: the sentinel places the node itself under its own path (or its cluster's) */
  private selfGrant(frame: NodeAttach) {
    return {
      systemId: frame.systemId,
      instanceId: frame.instanceId,
      assignedPath: `${this.ownPrefix}${frame.systemId}`,
      acceptedLogicals: frame.logicals,
    };
  }

  /**
   * The Ed25519 keys among `jwks`, each checked: its id is its own, and in strict-overlay its
   * certificate chains to the trust bundle and names this node (system id, sid, path) and every
   * logical in `logicals`. At most 4; a refusal for the first that fails.
   */
  private async certifiedKeys(
    jwks: readonly Jwk[],
    grant: { systemId: string; assignedPath: string },
    sid: string,
    logicals: readonly string[],
  ): Promise<NodeKey[] | AttachDecision> {
    const profile = this.opts.securityProfile;
    const keys: NodeKey[] = [];
    for (const jwk of jwks) {
      if (jwk.crv !== "Ed25519") continue;
      const publicKey = base64urlDecode(jwk.x);
      if (publicKey.length !== 32)
        return refuse("cert_invalid", `key ${jwk.kid} is not a 32-byte Ed25519 key`);
      // the id must be the key's own: a node naming its key after another node's would be
      // handed out for that node's KeyRequests and lock the owner out of its id
      const ownKid = ed25519KeyId(publicKey);
      if (jwk.kid !== ownKid)
        return refuse("bad_envelope", `key id ${jwk.kid} is not its key's own id (${ownKid})`);
      let notAfter: number | undefined;
      if (profile === "strict-overlay") {
        if (!jwk.x5c || jwk.x5c.length === 0)
          return refuse("cert_invalid", `key ${jwk.kid} has no certificate chain`);
        let chain: VerifiedChain;
        try {
          chain = await this.opts.verifiers!.verifyChain(jwk.x5c, grant.systemId);
        } catch (err) {
          return refuse("cert_invalid", `certificate refused: ${(err as Error).message}`);
        }
        if (!Buffer.from(chain.publicKey).equals(Buffer.from(publicKey))) {
          return refuse("cert_invalid", "key does not match its certificate");
        }
        if (chain.systemId !== grant.systemId || chain.sid !== sid || chain.path !== grant.assignedPath) {
          return refuse("cert_invalid", "certificate belongs to another node");
        }
        for (const logical of logicals) {
          if (!chain.logicals.includes(logical)) {
            return refuse("logical_not_granted", `certificate does not grant logical ${logical}`);
          }
        }
        notAfter = chain.notAfter.getTime();
      }
      const key: NodeKey = {
        kid: jwk.kid,
        publicKey,
        verifyKey: this.backend.ed25519ImportVerifyKey(publicKey),
        jwk,
      };
      if (notAfter !== undefined) key.notAfter = notAfter;
      keys.push(key);
      if (keys.length >= 4) break;
    }
    return keys;
  }

  /**
   * The keys an attached node presents to replace its own (KeyUpdate: its certificate renewed
   * while attached), checked as at attach against the identity it attached with; only in
   * strict-overlay, where keys come with certificates that expire. The frame itself is signed
   * with a key the node holds now (the authenticate stage checked it): the connection and that
   * key say who sends, the certificates that each new key belongs to the same node.
   */
  async rotatedKeys(
    jwks: readonly Jwk[],
    node: { systemId: string; path: string; sid: string; acceptedLogicals: readonly string[] },
  ): Promise<NodeKey[] | { ok: false; code: ErrorCode; reason: string }> {
    if (this.opts.securityProfile !== "strict-overlay")
      return { ok: false, code: "bad_envelope", reason: "keys are replaced only in strict-overlay" };
    const keys = await this.certifiedKeys(
      jwks,
      { systemId: node.systemId, assignedPath: node.path },
      node.sid,
      node.acceptedLogicals,
    );
    if (!Array.isArray(keys)) return keys as { ok: false; code: ErrorCode; reason: string };
    if (keys.length === 0) return { ok: false, code: "cert_invalid", reason: "no Ed25519 key presented" };
    return keys;
  }

  private async keysOf(
    env: Envelope<NodeAttach>,
    grant: { systemId: string; assignedPath: string; acceptedLogicals: string[] },
    sid: string,
  ): Promise<NodeKey[] | AttachDecision> {
    const profile = this.opts.securityProfile;
    const keys = await this.certifiedKeys(env.frame.keys, grant, sid, env.frame.logicals);
    if (!Array.isArray(keys)) return keys;
    if (profile === "open") return keys;
    if (keys.length === 0)
      return refuse("signature_missing", `${profile} needs an Ed25519 signing key at attach`);
    // Possession: the attach itself must be signed by one of the presented keys,
    // otherwise a copied certificate plus a stolen ticket would be enough.
    const sig = env.sec?.sig;
    if (!sig) return refuse("signature_missing", "NodeAttach must be signed by the presented key");
    const key = keys.find((k) => k.kid === sig.kid);
    if (!key) return refuse("key_unknown", "NodeAttach signed with a key it does not present");
    let sigBytes: Uint8Array;
    try {
      sigBytes = base64urlDecode(sig.val);
    } catch {
      return refuse("signature_invalid", "signature is not base64url");
    }
    if (!this.backend.ed25519Verify(key.verifyKey, signingInput(env), sigBytes)) {
      return refuse("signature_invalid", "NodeAttach signature does not verify");
    }
    // Without certificates the signature is the only proof of possession, and it proves one
    // key: another presented key could be any node's public key, copied from a KeyAnnounce.
    return profile === "strict-overlay" ? keys : [key];
  }
}
