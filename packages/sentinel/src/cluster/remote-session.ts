import type { CryptoBackend } from "@fame/crypto";
import { base64urlDecode, type Jwk } from "@fame/protocol";
import type { NodeKeyJwk } from "@fame/state";
import { type Link, type NodeKey, NodeSession, type RemotePeer } from "../node-session.js";
import type { Attested } from "./forward-frame.js";

/** What the cluster knows of a node attached to another sentinel. */
export interface RemoteNode extends Attested {
  /** its keys as it presented them at attach (x5c included): KeyRequest answers and AFT checks */
  readonly keys?: readonly NodeKeyJwk[] | undefined;
  readonly name?: string | undefined;
  readonly logicals?: readonly string[] | undefined;
  readonly draining?: boolean | undefined;
}

/** Where a remote session's frames leave: published to the sentinel the node is attached to. */
export interface ClusterOutbox {
  /** a frame this sentinel itself sends (a refusal, an answer) to node `systemId` at `owner` */
  fromSentinel(owner: string, systemId: string, data: string | Buffer): void;
}

/** A remote session's transport: writes become messages to the node's own sentinel. */
class RemoteLink implements Link {
  readonly bufferedAmount = 0;
  constructor(
    private readonly peer: RemotePeer,
    private readonly systemId: string,
    private readonly out: ClusterOutbox,
  ) {}

  get remote(): string {
    return `sentinel:${this.peer.owner}`;
  }

  send(data: string | Buffer): void {
    this.out.fromSentinel(this.peer.owner, this.systemId, data);
  }

  /** the connection belongs to the node's own sentinel: nothing to close here */
  close(): void {}
}

/**
 * A session standing for a node attached to another sentinel, so that the pipeline's
 * authorize, route, deliver and account stages treat it by identity like a local one: the
 * same id, sid, path, principal and session owner; what is sent to it goes to its sentinel.
 * It is never in the session directory (no heartbeats, no attach cap, no status row).
 */
export function remoteSession(
  node: RemoteNode,
  owner: string,
  out: ClusterOutbox,
  backend: CryptoBackend,
  now: number,
): NodeSession {
  const peer: RemotePeer = { owner };
  const session = new NodeSession(`remote:${node.systemId}`, new RemoteLink(peer, node.systemId, out), now);
  session.remote = peer;
  session.clearBatches = true;
  session.state = "attached";
  session.id = node.systemId;
  session.systemId = node.systemId;
  refreshRemote(session, node, owner, backend);
  return session;
}

/** The node's record changed (or it moved to another sentinel): same object, new facts. */
export function refreshRemote(
  session: NodeSession,
  node: RemoteNode,
  owner: string,
  backend: CryptoBackend,
): void {
  session.remote!.owner = owner;
  session.sid = node.sid;
  session.path = node.path;
  session.principal = node.principal;
  session.instanceId = node.instanceId;
  session.sessionOwner = `${node.principal}\u0000${node.instanceId}`;
  if (node.name !== undefined) session.name = node.name;
  if (node.logicals !== undefined) session.acceptedLogicals = [...node.logicals];
  if (node.draining !== undefined) session.draining = node.draining;
  if (node.keys !== undefined) {
    session.keys.clear();
    for (const jwk of node.keys) {
      const key = keyOf(jwk, backend);
      if (key !== undefined) session.keys.set(key.kid, key);
    }
  }
}

/** an Ed25519 JWK from the directory as a NodeKey; undefined when it is not one */
function keyOf(record: NodeKeyJwk, backend: CryptoBackend): NodeKey | undefined {
  if (record.kty !== "OKP" || record.crv !== "Ed25519") return undefined;
  if (typeof record.x !== "string" || typeof record.kid !== "string") return undefined;
  const jwk: Jwk = { kty: "OKP", crv: "Ed25519", x: record.x, kid: record.kid };
  if (record.use === "sig") jwk.use = "sig";
  if (Array.isArray(record.x5c)) jwk.x5c = [...record.x5c];
  let publicKey: Uint8Array;
  try {
    publicKey = base64urlDecode(record.x);
  } catch {
    return undefined;
  }
  if (publicKey.length !== 32) return undefined;
  return { kid: jwk.kid, publicKey, verifyKey: backend.ed25519ImportVerifyKey(publicKey), jwk };
}
