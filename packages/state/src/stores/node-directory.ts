import type { Bucket } from "../bucket.js";
import type { NodeDirectory, NodeKeyJwk, NodeRecord, Unsubscribe } from "../types.js";
import { isObj, num, str, strList } from "./values.js";

export const DIRECTORY_REFRESH_MS = 5_000;
export const DIRECTORY_MAX_AGE_MS = 20_000;
const MAX_LIST = 256;
const MAX_KEYS = 16;

function parseKey(raw: unknown): NodeKeyJwk | undefined {
  if (!isObj(raw)) return undefined;
  const { kty, crv, x, kid, use, x5c } = raw;
  if (!str(kty, 16) || !str(crv, 16) || !str(x, 128) || !str(kid, 256)) return undefined;
  const key: NodeKeyJwk = { kty, crv, x, kid };
  if (use !== undefined) {
    if (!str(use, 16)) return undefined;
    key.use = use;
  }
  if (x5c !== undefined) {
    if (!strList(x5c, 5, 16_384)) return undefined;
    key.x5c = x5c;
  }
  return key;
}

export function parseNodeRecord(raw: unknown): NodeRecord | undefined {
  if (!isObj(raw)) return undefined;
  const r = raw;
  if (!str(r["systemId"], 256) || !str(r["instanceId"], 256) || !str(r["sid"], 256)) return undefined;
  if (!str(r["path"], 1024) || !str(r["sentinelId"], 128) || !str(r["principal"], 1024)) return undefined;
  if (!strList(r["logicals"], MAX_LIST) || !strList(r["addresses"], MAX_LIST)) return undefined;
  if (!str(r["name"], 256) || typeof r["draining"] !== "boolean" || !num(r["attachedAt"])) return undefined;
  if (!Array.isArray(r["keys"]) || r["keys"].length > MAX_KEYS) return undefined;
  const keys: NodeKeyJwk[] = [];
  for (const k of r["keys"]) {
    const key = parseKey(k);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return {
    systemId: r["systemId"],
    instanceId: r["instanceId"],
    sid: r["sid"],
    path: r["path"],
    sentinelId: r["sentinelId"],
    principal: r["principal"],
    logicals: r["logicals"],
    addresses: r["addresses"],
    keys,
    name: r["name"],
    draining: r["draining"],
    attachedAt: r["attachedAt"],
  };
}

function byAttach(a: NodeRecord, b: NodeRecord): number {
  if (a.attachedAt !== b.attachedAt) return a.attachedAt - b.attachedAt;
  return a.systemId < b.systemId ? -1 : a.systemId > b.systemId ? 1 : 0;
}

/**
 * One record per attached node, indexed by sid and by address from the watch. The sentinel a
 * node is attached to refreshes its record, so a dead sentinel's nodes age out in 20 s.
 */
export class BucketNodeDirectory implements NodeDirectory {
  private readonly sidIndex = new Map<string, string>();
  private readonly addressIndex = new Map<string, Set<string>>();
  /** sorted members per address, built on first read after a change */
  private readonly membersCache = new Map<string, readonly NodeRecord[]>();
  private allCache: readonly NodeRecord[] | undefined;
  private readonly own = new Map<string, NodeRecord>();
  private readonly listeners = new Set<(systemId: string, record: NodeRecord | undefined) => void>();
  private readonly timer: NodeJS.Timeout;
  private readonly unwatch: () => void;

  constructor(
    private readonly bucket: Bucket<NodeRecord>,
    private readonly onRefreshError: (err: unknown) => void,
  ) {
    for (const [key, e] of bucket.entries()) this.index(key, undefined, e.value);
    const previous = new Map<string, NodeRecord>();
    for (const [key, e] of bucket.entries()) previous.set(key, e.value);
    this.unwatch = bucket.onChange((key, e) => {
      // the node attached elsewhere since: stop refreshing the record we announced
      const mine = this.own.get(key);
      if (mine !== undefined && e !== undefined && e.value.sentinelId !== mine.sentinelId)
        this.own.delete(key);
      const before = previous.get(key);
      this.index(key, before, e?.value);
      if (e === undefined) previous.delete(key);
      else previous.set(key, e.value);
      // a refresh rewrites an unchanged record every 5 s: listeners hear only real changes
      if (before === undefined || e === undefined || !sameRecord(before, e.value)) this.emit(key, e?.value);
    });
    this.timer = setInterval(() => this.refresh(), DIRECTORY_REFRESH_MS);
    this.timer.unref();
  }

  async announce(record: NodeRecord): Promise<void> {
    const copy = { ...record };
    this.own.set(record.systemId, copy);
    await this.bucket.put(record.systemId, copy);
  }

  async update(systemId: string, patch: Partial<Omit<NodeRecord, "systemId">>): Promise<boolean> {
    const cur = this.own.get(systemId);
    if (cur === undefined) return false;
    const next: NodeRecord = { ...cur, ...patch, systemId };
    // what this process last wrote already says so: no write (a node binding and unbinding in
    // a loop must not turn each frame into a replicated write; the refresh keeps the record fresh)
    if (JSON.stringify(next) === JSON.stringify(cur)) return true;
    this.own.set(systemId, next);
    await this.bucket.put(systemId, next);
    return true;
  }

  async withdraw(systemId: string, instanceId: string): Promise<boolean> {
    const mine = this.own.get(systemId);
    if (mine === undefined || mine.instanceId !== instanceId) return false;
    this.own.delete(systemId);
    const cur = await this.bucket.read(systemId);
    if (cur === undefined) return false;
    // the node may already be attached elsewhere: only our own announcement is removed
    if (cur.value.instanceId !== instanceId || cur.value.sentinelId !== mine.sentinelId) return false;
    return this.bucket.delete(systemId, cur.revision);
  }

  get(systemId: string): NodeRecord | undefined {
    const e = this.bucket.peek(systemId);
    return e !== undefined && e.at >= Date.now() - DIRECTORY_MAX_AGE_MS ? e.value : undefined;
  }

  bySid(sid: string): NodeRecord | undefined {
    const systemId = this.sidIndex.get(sid);
    return systemId === undefined ? undefined : this.get(systemId);
  }

  membersOf(address: string): readonly NodeRecord[] {
    let members = this.membersCache.get(address);
    if (members === undefined) {
      const ids = this.addressIndex.get(address);
      if (ids === undefined) return [];
      const list: NodeRecord[] = [];
      for (const id of ids) {
        const r = this.get(id);
        if (r !== undefined) list.push(r);
      }
      members = list.sort(byAttach);
      this.membersCache.set(address, members);
    }
    return members;
  }

  all(): readonly NodeRecord[] {
    if (this.allCache === undefined) {
      const list: NodeRecord[] = [];
      const cutoff = Date.now() - DIRECTORY_MAX_AGE_MS;
      for (const [, e] of this.bucket.entries()) if (e.at >= cutoff) list.push(e.value);
      this.allCache = list.sort(byAttach);
    }
    return this.allCache;
  }

  onChange(cb: (systemId: string, record: NodeRecord | undefined) => void): Unsubscribe {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  stop(): void {
    clearInterval(this.timer);
    this.unwatch();
    this.own.clear();
    this.listeners.clear();
  }

  private emit(systemId: string, record: NodeRecord | undefined): void {
    for (const cb of this.listeners) {
      try {
        cb(systemId, record);
      } catch (err) {
        this.onRefreshError(err);
      }
    }
  }

  private refresh(): void {
    for (const record of this.own.values()) {
      this.bucket.put(record.systemId, record).catch(this.onRefreshError);
    }
  }

  private index(systemId: string, before: NodeRecord | undefined, after: NodeRecord | undefined): void {
    this.allCache = undefined;
    if (before !== undefined) {
      if (this.sidIndex.get(before.sid) === systemId) this.sidIndex.delete(before.sid);
      for (const a of addressesOf(before)) {
        const set = this.addressIndex.get(a);
        set?.delete(systemId);
        if (set?.size === 0) this.addressIndex.delete(a);
        this.membersCache.delete(a);
      }
    }
    if (after !== undefined) {
      this.sidIndex.set(after.sid, systemId);
      for (const a of addressesOf(after)) {
        let set = this.addressIndex.get(a);
        if (set === undefined) {
          set = new Set();
          this.addressIndex.set(a, set);
        }
        set.add(systemId);
        this.membersCache.delete(a);
      }
    }
  }
}

function addressesOf(r: NodeRecord): Set<string> {
  return new Set([...r.logicals, ...r.addresses]);
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameKey(a: NodeKeyJwk, b: NodeKeyJwk): boolean {
  return (
    a.kid === b.kid &&
    a.x === b.x &&
    a.kty === b.kty &&
    a.crv === b.crv &&
    a.use === b.use &&
    sameList(a.x5c, b.x5c)
  );
}

/** field by field: a refreshed record is a new object with the same content */
export function sameRecord(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.systemId === b.systemId &&
    a.instanceId === b.instanceId &&
    a.sid === b.sid &&
    a.path === b.path &&
    a.sentinelId === b.sentinelId &&
    a.principal === b.principal &&
    a.name === b.name &&
    a.draining === b.draining &&
    a.attachedAt === b.attachedAt &&
    sameList(a.logicals, b.logicals) &&
    sameList(a.addresses, b.addresses) &&
    a.keys.length === b.keys.length &&
    a.keys.every((k, i) => sameKey(k, b.keys[i]!))
  );
}
