import { remoteKey } from "./remote-key.js";

/**
 * Connections in some phase (in their handshake, or upgraded but not attached yet), in total
 * and per remote key, so a server can cap both before it takes another one.
 */
export class ConnectionTally {
  private readonly keyOf = new Map<string, string>();
  private readonly perKey = new Map<string, number>();

  get total(): number {
    return this.keyOf.size;
  }

  from(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** `remote` as a Link reports it: "address:port" */
  add(connectionId: string, remote: string): void {
    this.addKeyed(connectionId, remoteKey(hostOf(remote)));
  }

  /** the same, for a caller that holds the remote's key already (remoteKey) */
  addKeyed(connectionId: string, key: string): void {
    if (this.keyOf.has(connectionId)) return;
    this.keyOf.set(connectionId, key);
    this.perKey.set(key, this.from(key) + 1);
  }

  /** the connection attached or went away; false if it was not pending */
  remove(connectionId: string): boolean {
    const key = this.keyOf.get(connectionId);
    if (key === undefined) return false;
    this.keyOf.delete(connectionId);
    const n = this.from(key) - 1;
    if (n > 0) this.perKey.set(key, n);
    else this.perKey.delete(key);
    return true;
  }
}

/** "1.2.3.4:5678" → "1.2.3.4", "::1:5678" → "::1" */
export function hostOf(remote: string): string {
  const i = remote.lastIndexOf(":");
  return i > 0 ? remote.slice(0, i) : remote;
}
