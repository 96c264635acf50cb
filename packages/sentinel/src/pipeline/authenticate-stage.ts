import type { CryptoBackend } from "@fame/crypto";
import type { Logger } from "@fame/logger";
import {
  BINARY_BATCH_CAPABILITY,
  BINARY_RECORDS_CAPABILITY,
  base64urlDecode,
  CLEAR_BATCH_CAPABILITY,
  type Envelope,
  type ErrorCode,
  type FreshnessWindow,
  isSealedData,
  LINK_BATCH_CAPABILITY,
  LINK_BATCH_SEND_BYTES,
  LINK_BATCH_SEND_ENTRIES,
  MAX_LINK_BATCH_ENTRIES,
  makeEnvelope,
  type NodeAttach,
  newId,
  signingInput,
} from "@fame/protocol";
import type { AttachAuthority, AttachDecision } from "../attach-authority.js";
import { CLOSE } from "../close-codes.js";
import type { PendingAttaches } from "../limits/pending-attaches.js";
import { type Link, NodeSession } from "../node-session.js";
import type { SecurityProfile } from "../sentinel-config.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { SessionDirectory } from "../session-directory.js";
import type { SessionTeardown } from "../session-teardown.js";
import type { SecurityLevel } from "../stickiness/index.js";
import type { DeliverStage } from "./deliver-stage.js";

export interface AuthenticateDeps {
  sid: string;
  attach: AttachAuthority;
  directory: SessionDirectory;
  pendingAttaches: PendingAttaches;
  teardown: SessionTeardown;
  deliver: DeliverStage;
  counters: SentinelCounters;
  log: Logger;
  backend: CryptoBackend;
  now: () => number;
  /** the security profile: all but `open` require signed envelopes */
  securityProfile: SecurityProfile;
  attachTimeoutMs: number;
  /** attached sessions at most, all nodes together (FAME_MAX_SESSIONS); a reconnect replaces its own */
  maxSessions: number;
  /** told to the node in NodeAttachAck */
  heartbeatMs: number;
  maxFrameBytes: number;
  /** link batches on (FAME_LINK_BATCH): offered in NodeAttachAck, sent to nodes that offer them */
  linkBatch: boolean;
  /** told to the node in NodeAttachAck when channels are pinned */
  stickinessLevel: SecurityLevel | undefined;
  /**
   * Signed envelopes to logical addresses must be fresh here too: a node replaying its own
   * signed request would otherwise be spread over a pool's replicas, each of whose windows
   * sees it only once. Undefined in the open profile, where nothing is signed.
   */
  freshness: FreshnessWindow | undefined;
}

/**
 * The authenticate stage: who sent this frame. A connection proves it once, with NodeAttach
 * (the attach authority checks its ticket, certificate and keys); after that every frame must
 * carry the session's sid and, outside the open profile, a signature by one of its keys.
 */
export class AuthenticateStage {
  private readonly signed: boolean;

  constructor(private readonly deps: AuthenticateDeps) {
    this.signed = deps.securityProfile !== "open";
  }

  /** a new connection: it has attachTimeoutMs to present a valid NodeAttach */
  open(link: Link): NodeSession {
    const d = this.deps;
    const session = new NodeSession(newId(), link, d.now());
    d.directory.opened(session);
    d.pendingAttaches.add(session.connectionId, link.remote);
    session.attachTimer = setTimeout(() => {
      if (session.state === "attaching") {
        d.log.warn({ remote: link.remote }, "attach timeout");
        this.refuseAttach(session, "attach_timeout", "no valid NodeAttach in time", CLOSE.attachTimeout);
      }
    }, d.attachTimeoutMs);
    session.attachTimer.unref();
    return session;
  }

  /** The first frame of a connection: a NodeAttach, or the connection is refused. */
  attach(session: NodeSession, env: Envelope): Promise<void> | undefined {
    if (env.frame.type !== "NodeAttach") {
      this.refuseAttach(session, "not_authorized", "first frame must be NodeAttach", CLOSE.policy);
      return;
    }
    return this.decideAttach(session, env as Envelope<NodeAttach>);
  }

  /** A frame of an attached session: its sid and (outside the open profile) its signature. */
  verify(session: NodeSession, env: Envelope): boolean {
    if (env.sid !== session.sid) {
      this.deps.deliver.nack(session, env, "not_authorized", "envelope sid is not the sender's");
      return false;
    }
    // Sealed channel data is not signed: its AEAD tag authenticates it end to end, and
    // here the sender is this session's own attached connection (sid checked just above).
    // Every other frame, plaintext Data included, must carry a valid signature.
    return !this.signed || isSealedData(env) || this.verifySignature(session, env);
  }

  refuseAttach(
    session: NodeSession,
    code: ErrorCode,
    reason: string,
    closeCode: number,
    env?: Envelope,
  ): void {
    const d = this.deps;
    d.counters.attachRefused++;
    d.log.warn({ code, reason, remote: session.link.remote }, "attach refused");
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        ...(env ? { corrId: env.id } : {}),
        frame: { type: "NodeAttachAck", ok: false, code, reason },
      }),
    );
    session.link.close(closeCode, code);
    d.teardown.close(session, code);
  }

  private async decideAttach(session: NodeSession, env: Envelope<NodeAttach>): Promise<void> {
    const d = this.deps;
    // Checked before the (costly) decision and again after it, when others may have attached meanwhile.
    if (this.refuseAtCap(session, env.frame.systemId, env)) return;
    let decision: AttachDecision;
    try {
      decision = await d.attach.decide(env);
    } catch (err) {
      d.log.error({ err }, "attach check failed");
      decision = { ok: false, code: "internal_error", reason: "attach check failed" };
    }
    if (session.state !== "attaching") return; // timed out or closed meanwhile
    if (!decision.ok) {
      this.refuseAttach(session, decision.code, decision.reason, CLOSE.policy, env);
      return;
    }
    // A key id names one key: another node may not take over one in use, or
    // KeyRequest{kid} would hand out its key in place of the owner's.
    const taken = decision.keys.find((k) => {
      const owner = d.directory.keyOwner(k.kid);
      return owner !== undefined && owner.systemId !== decision.systemId;
    });
    if (taken) {
      this.refuseAttach(
        session,
        "not_authorized",
        `key id ${taken.kid} belongs to another node`,
        CLOSE.policy,
        env,
      );
      return;
    }
    if (this.refuseAtCap(session, decision.systemId, env)) return;
    clearTimeout(session.attachTimer);
    // a cleared Timeout still holds its callback and that callback's context: drop it
    session.attachTimer = undefined;
    d.pendingAttaches.remove(session.connectionId);
    const previous = d.directory.bySystemId(decision.systemId);
    if (previous) {
      // A reconnect of the same node replaces the stale connection.
      previous.link.close(CLOSE.superseded, "superseded by a new connection");
      d.teardown.close(previous, "superseded");
    }
    session.state = "attached";
    session.id = decision.systemId;
    session.systemId = decision.systemId;
    session.instanceId = decision.instanceId;
    session.name = env.frame.name ?? "";
    session.path = decision.assignedPath;
    session.sid = decision.sid;
    session.acceptedLogicals = decision.acceptedLogicals;
    session.principal = decision.principal;
    session.credential = decision.credential;
    session.sessionOwner = `${decision.principal}\u0000${decision.instanceId}`;
    session.attachedAt = d.now();
    for (const key of decision.keys) session.keys.set(key.kid, key);
    d.directory.attached(session);
    d.counters.attached++;
    const level = d.stickinessLevel;
    const binary =
      session.link.sendBinary !== undefined &&
      env.frame.capabilities?.includes(BINARY_RECORDS_CAPABILITY) === true;
    session.binaryRecords = binary;
    session.binaryBatch = binary && env.frame.capabilities?.includes(BINARY_BATCH_CAPABILITY) === true;
    session.clearBatches = env.frame.capabilities?.includes(CLEAR_BATCH_CAPABILITY) === true;
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        corrId: env.id,
        frame: {
          type: "NodeAttachAck",
          ok: true,
          assignedPath: session.path,
          heartbeatMs: d.heartbeatMs,
          maxFrameBytes: d.maxFrameBytes,
          ...(d.linkBatch ? { linkBatch: MAX_LINK_BATCH_ENTRIES } : {}),
          // only to a node that asked: an older node refuses a member it does not know
          ...(binary ? { binaryRecords: true } : {}),
          ...(session.binaryBatch ? { binaryBatch: true } : {}),
          ...(session.clearBatches ? { poolBatches: true } : {}),
          ...(level ? { stickiness: { mode: "aft", securityLevel: level } } : {}),
        },
      }),
    );
    if (d.linkBatch && env.frame.capabilities?.includes(LINK_BATCH_CAPABILITY) === true)
      session.link.batchTo?.(LINK_BATCH_SEND_ENTRIES, LINK_BATCH_SEND_BYTES);
    d.log.info(
      {
        systemId: session.systemId,
        path: session.path,
        logicals: session.acceptedLogicals,
        principal: session.principal,
        remote: session.link.remote,
      },
      "node attached",
    );
  }

  /** true (and refused) when FAME_MAX_SESSIONS are attached and this is not a reconnect */
  private refuseAtCap(session: NodeSession, systemId: string, env: Envelope): boolean {
    const d = this.deps;
    if (d.directory.attachedCount < d.maxSessions || d.directory.bySystemId(systemId) !== undefined)
      return false;
    d.counters.sessionCapRefused++;
    this.refuseAttach(
      session,
      "too_many_sessions",
      `${d.directory.attachedCount} sessions attached (FAME_MAX_SESSIONS ${d.maxSessions})`,
      CLOSE.policy,
      env,
    );
    return true;
  }

  private verifySignature(session: NodeSession, env: Envelope): boolean {
    const d = this.deps;
    const sig = env.sec?.sig;
    if (!sig) {
      d.deliver.nack(session, env, "signature_missing", `${d.securityProfile} requires signed envelopes`);
      return false;
    }
    const key = session.keys.get(sig.kid);
    if (!key) {
      d.deliver.nack(session, env, "key_unknown", "signed with a key this node did not present");
      return false;
    }
    // A key outlives its certificate in no one's book: peers drop it at expiry, and a node
    // holding a newer key could otherwise make them forget who it is (audit round 15).
    if (key.notAfter !== undefined && key.notAfter <= d.now()) {
      d.deliver.nack(session, env, "key_unknown", "signed with a key whose certificate has expired");
      return false;
    }
    let ok = false;
    try {
      ok = d.backend.ed25519Verify(key.verifyKey, signingInput(env), base64urlDecode(sig.val));
    } catch {
      ok = false;
    }
    if (!ok) {
      d.deliver.nack(session, env, "signature_invalid", "signature does not verify");
      return false;
    }
    return true;
  }

  /** periodic: forgets senders whose remembered ids are all too old to be taken again */
  sweep(now: number): void {
    this.deps.freshness?.sweep(now);
  }

  /**
   * A signed frame to a logical address must also be fresh: the pool may hand a copy to a
   * replica that has not seen the first, so copies are stopped here, where they all pass.
   * Frames to a physical address have one receiver, whose own window refuses a copy, so they
   * are not remembered here. Sealed channel data has its own replay window.
   */
  fresh(session: NodeSession, env: Envelope): boolean {
    const d = this.deps;
    if (d.freshness === undefined || isSealedData(env)) return true;
    const fresh = d.freshness.check(session.sid, env.id, env.ts, d.now());
    if (fresh === "ok") return true;
    if (fresh === "stale") {
      d.counters.staleRefused++;
      d.deliver.nack(session, env, "stale_envelope", "ts outside the clock-skew window", true);
    } else {
      d.counters.replayRefused++;
      d.deliver.nack(session, env, "replay", "envelope id already seen from this sender", true);
    }
    return false;
  }
}
