/**
 * Storage for channel pins, built for many small entries:
 *  - one Map from key to Pin; Map insertion order doubles as LRU order (re-inserted on use);
 *  - each Pin sits on two intrusive doubly linked lists, one per replica and one per client,
 *    so dropping all pins of a replica or client is O(its pins) with no per-pin Set entries;
 *  - replica ids and client sids are interned, so pins share one string per replica/client
 *    instead of holding copies;
 *  - a client with a single pin (the common case: one channel per service) has no group object:
 *    the client table holds the pin itself, and a group is made at its second pin.
 * Times are whole seconds relative to the owner's epoch: small integers stay unboxed in V8.
 */

/** "high": proven by a signed AFT; "low": taken on the replica's word (unsigned or no AFT). */
export type Trust = "high" | "low";

/** The answer to a routed frame pinned to this replica; shared so a hit allocates nothing. */
export interface PinnedDecision {
  readonly kind: "pinned";
  readonly replicaId: string;
}

export class ReplicaGroup {
  head: Pin | undefined = undefined;
  count = 0;
  readonly decision: PinnedDecision;
  constructor(readonly id: string) {
    this.decision = Object.freeze({ kind: "pinned", replicaId: id });
  }
}

/** the pins of a client holding two or more (a client's only pin stands in the table alone) */
export class ClientGroup {
  head: Pin | undefined = undefined;
  count = 0;
  constructor(readonly sid: string) {}
}

export class Pin {
  rPrev: Pin | undefined = undefined;
  rNext: Pin | undefined = undefined;
  cPrev: Pin | undefined = undefined;
  cNext: Pin | undefined = undefined;
  /**
   * The cluster's pin store holds it (recorded at accept, or read from there): only then does
   * closing the channel delete it there. A pin re-made locally from an echoed AFT was never
   * written, and a delete per close of one would be a replicated write per frame pair.
   */
  recorded = false;
  constructor(
    readonly key: string,
    /** the client's sid (the one string its pins share) */
    readonly clientSid: string,
    readonly replica: ReplicaGroup,
    /** Expiry, relative seconds. */
    public exp: number,
    /** Last use, relative seconds. */
    public seen: number,
    public trust: Trust,
  ) {}
}

export class PinTable {
  private readonly pins = new Map<string, Pin>();
  private readonly replicas = new Map<string, ReplicaGroup>();
  /** client sid → its only pin, or the group of its pins */
  private readonly clients = new Map<string, ClientGroup | Pin>();

  get size(): number {
    return this.pins.size;
  }

  get(key: string): Pin | undefined {
    return this.pins.get(key);
  }

  /** Insert or replace the pin under `key` (a replaced pin leaves its old lists). */
  set(key: string, clientSid: string, replicaId: string, exp: number, now: number, trust: Trust): Pin {
    const old = this.pins.get(key);
    if (old !== undefined) this.delete(old);
    const replica = this.replicaGroup(replicaId);
    const held = this.clients.get(clientSid);
    const sid = held === undefined ? clientSid : held instanceof Pin ? held.clientSid : held.sid;
    const pin = new Pin(key, sid, replica, exp, now, trust);
    pin.rNext = replica.head;
    if (replica.head !== undefined) replica.head.rPrev = pin;
    replica.head = pin;
    replica.count++;
    if (held === undefined) this.clients.set(clientSid, pin);
    else {
      const group = held instanceof ClientGroup ? held : this.groupOf(held);
      pin.cNext = group.head;
      if (group.head !== undefined) group.head.cPrev = pin;
      group.head = pin;
      group.count++;
    }
    this.pins.set(key, pin);
    return pin;
  }

  /** Mark a pin used now; moves it to the LRU tail at most once per second to keep hits cheap. */
  touch(pin: Pin, now: number): void {
    if (pin.seen === now) return;
    pin.seen = now;
    this.pins.delete(pin.key);
    this.pins.set(pin.key, pin);
  }

  delete(pin: Pin): boolean {
    if (this.pins.get(pin.key) !== pin) return false;
    this.pins.delete(pin.key);
    const r = pin.replica;
    if (pin.rPrev !== undefined) pin.rPrev.rNext = pin.rNext;
    else r.head = pin.rNext;
    if (pin.rNext !== undefined) pin.rNext.rPrev = pin.rPrev;
    if (--r.count === 0) this.replicas.delete(r.id);
    const c = this.clients.get(pin.clientSid);
    if (c === pin) this.clients.delete(pin.clientSid);
    else if (c instanceof ClientGroup) {
      if (pin.cPrev !== undefined) pin.cPrev.cNext = pin.cNext;
      else c.head = pin.cNext;
      if (pin.cNext !== undefined) pin.cNext.cPrev = pin.cPrev;
      // back to a lone pin: the group object goes
      if (--c.count === 1 && c.head !== undefined) {
        c.head.cNext = undefined;
        this.clients.set(c.sid, c.head);
      }
    }
    pin.rPrev = pin.rNext = pin.cPrev = pin.cNext = undefined;
    return true;
  }

  /** The least recently used pin. */
  oldest(): Pin | undefined {
    return this.pins.values().next().value;
  }

  /** Drop every pin held by a replica; O(its pins). */
  deleteReplica(replicaId: string): number {
    return this.deleteGroup(this.replicas.get(replicaId));
  }

  /** Drop every pin of a client; O(its pins). */
  deleteClient(clientSid: string): number {
    const held = this.clients.get(clientSid);
    if (held instanceof Pin) return this.delete(held) ? 1 : 0;
    return this.deleteGroup(held);
  }

  /** Pins in LRU order, oldest first. Safe to delete from while iterating. */
  values(): IterableIterator<Pin> {
    return this.pins.values();
  }

  /** pins a client holds (expired ones included until swept) */
  pinsOfClient(clientSid: string): number {
    const held = this.clients.get(clientSid);
    if (held === undefined) return 0;
    return held instanceof Pin ? 1 : held.count;
  }

  pinsPerReplica(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, group] of this.replicas) out.set(id, group.count);
    return out;
  }

  clear(): void {
    this.pins.clear();
    this.replicas.clear();
    this.clients.clear();
  }

  /**
   * `delete` unlinks the head from both of its lists, so the group's next pin becomes its head.
   * A client group's last pin stands alone once the one before it goes: it is deleted as such.
   */
  private deleteGroup(group: ReplicaGroup | ClientGroup | undefined): number {
    if (group === undefined) return 0;
    let n = 0;
    while (group.head !== undefined) {
      const pin = group.head;
      this.delete(pin);
      n++;
      if (group instanceof ClientGroup && group.count === 1) {
        // the group was just replaced by its remaining pin in the client table
        if (group.head !== undefined && this.delete(group.head)) n++;
        group.head = undefined;
        group.count = 0;
      }
    }
    return n;
  }

  private replicaGroup(id: string): ReplicaGroup {
    let g = this.replicas.get(id);
    if (g === undefined) {
      g = new ReplicaGroup(id);
      this.replicas.set(id, g);
    }
    return g;
  }

  /** a lone pin's client gets its second: the group is made, with the first pin on it */
  private groupOf(lone: Pin): ClientGroup {
    const g = new ClientGroup(lone.clientSid);
    g.head = lone;
    g.count = 1;
    this.clients.set(g.sid, g);
    return g;
  }
}
