import type { Bucket } from "../bucket.js";
import type { SessionPlacement, SessionStore, Unsubscribe } from "../types.js";
import { isObj, num, str } from "./values.js";

export function parsePlacement(raw: unknown): SessionPlacement | undefined {
  if (!isObj(raw)) return undefined;
  const { replicaSystemId, owner, lastSeen } = raw;
  if (!str(replicaSystemId, 256) || !str(owner, 2048) || !num(lastSeen)) return undefined;
  return { replicaSystemId, owner, lastSeen };
}

/** Affinity session → replica, agreed cluster-wide: the first placement wins. */
export class BucketSessionStore implements SessionStore {
  constructor(private readonly bucket: Bucket<SessionPlacement>) {}

  get(sessionId: string): SessionPlacement | undefined {
    return this.bucket.peek(sessionId)?.value;
  }

  async place(sessionId: string, placement: SessionPlacement): Promise<SessionPlacement> {
    const value = copy(placement);
    // bounded: each lost race means another writer changed the key in between
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((await this.bucket.create(sessionId, value)) !== undefined) return value;
      const cur = await this.bucket.read(sessionId);
      if (cur !== undefined) return cur.value;
    }
    throw new Error(`session ${sessionId}: placement kept changing`);
  }

  async put(sessionId: string, placement: SessionPlacement): Promise<void> {
    await this.bucket.put(sessionId, copy(placement));
  }

  async delete(sessionId: string): Promise<void> {
    await this.bucket.delete(sessionId);
  }

  onChange(cb: (sessionId: string, placement: SessionPlacement | undefined) => void): Unsubscribe {
    return this.bucket.onChange((key, e) => cb(key, e?.value));
  }

  *entries(): IterableIterator<[string, SessionPlacement]> {
    for (const [key, e] of this.bucket.entries()) yield [key, e.value];
  }
}

function copy(p: SessionPlacement): SessionPlacement {
  return { replicaSystemId: p.replicaSystemId, owner: p.owner, lastSeen: p.lastSeen };
}
