import { MAX_BATCH_ENTRIES } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_COALESCER_LIMITS,
  type OutgoingMessage,
  RecordCoalescer,
} from "../src/channel/record-coalescer.js";
import type { SecureChannel } from "../src/channel/secure-channel.js";

/** The coalescer only uses a channel as a map key: a named stand-in is enough. */
function channel(name: string): SecureChannel {
  return { name } as unknown as SecureChannel;
}

interface Emitted {
  channel: SecureChannel;
  to: string;
  corrIds: string[];
  more: boolean[];
}

function recorder(limits: ConstructorParameters<typeof RecordCoalescer>[1] = {}) {
  const records: Emitted[] = [];
  let fullRecords = 0;
  const coalescer = new RecordCoalescer(
    (ch, to, messages) =>
      records.push({
        channel: ch,
        to,
        corrIds: messages.map((m) => m.corrId),
        more: messages.map((m) => m.more),
      }),
    limits,
    () => fullRecords++,
  );
  return { coalescer, records, fullRecords: () => fullRecords };
}

const msg = (corrId: string, json = `{"id":"${corrId}"}`, more = false): OutgoingMessage => ({
  corrId,
  json,
  more,
});

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe("RecordCoalescer", () => {
  it("sends what one turn adds on a channel as one record, in order, at the next tick", async () => {
    const { coalescer, records } = recorder();
    const ch = channel("a");
    for (let i = 0; i < 5; i++) coalescer.add(ch, "math@fame.fabric", msg(`c${i}`, "1", i === 2));
    expect(records).toHaveLength(0);
    expect(coalescer.pending).toBe(5);
    await nextTick();
    expect(records).toEqual([
      {
        channel: ch,
        to: "math@fame.fabric",
        corrIds: ["c0", "c1", "c2", "c3", "c4"],
        more: [false, false, true, false, false],
      },
    ]);
    expect(coalescer.pending).toBe(0);
  });

  it("takes in messages that promise continuations of the same turn add", async () => {
    const { coalescer, records } = recorder();
    const ch = channel("a");
    // Inside a microtask, as a reply produced after an `await` is: the flush scheduled by the
    // first add runs only once the microtask queue (the continuation below included) is empty.
    await new Promise<void>((done) => {
      queueMicrotask(() => {
        coalescer.add(ch, "x@fame.fabric", msg("first"));
        void Promise.resolve()
          .then(() => coalescer.add(ch, "x@fame.fabric", msg("second")))
          .then(() => coalescer.add(ch, "x@fame.fabric", msg("third")))
          .then(() => setImmediate(done));
      });
    });
    expect(records.map((r) => r.corrIds)).toEqual([["first", "second", "third"]]);
  });

  it("sends a lone message alone", async () => {
    const { coalescer, records } = recorder();
    coalescer.add(channel("a"), "x@fame.fabric", msg("only"));
    await nextTick();
    expect(records.map((r) => r.corrIds)).toEqual([["only"]]);
  });

  it("sends a full queue at once and calls onFullRecord", async () => {
    const { coalescer, records, fullRecords } = recorder({ maxMessages: 3 });
    const ch = channel("a");
    for (let i = 0; i < 7; i++) coalescer.add(ch, "x@fame.fabric", msg(`c${i}`));
    // two full records left synchronously; the seventh waits for the tick
    expect(records.map((r) => r.corrIds)).toEqual([
      ["c0", "c1", "c2"],
      ["c3", "c4", "c5"],
    ]);
    expect(fullRecords()).toBe(2);
    expect(coalescer.pending).toBe(1);
    await nextTick();
    expect(records.map((r) => r.corrIds)).toEqual([["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"]]);
    expect(fullRecords()).toBe(2);
  });

  it("splits a queue so no record carries more than maxJsonUnits (a bigger message goes alone)", async () => {
    const { coalescer, records } = recorder({ maxJsonUnits: 10 });
    const ch = channel("a");
    const sizes = [4, 4, 4, 11, 3, 3, 3, 3];
    for (const [i, n] of sizes.entries()) coalescer.add(ch, "x@fame.fabric", msg(`c${i}`, "x".repeat(n)));
    await nextTick();
    expect(records.map((r) => r.corrIds)).toEqual([["c0", "c1"], ["c2"], ["c3"], ["c4", "c5", "c6"], ["c7"]]);
    expect(records.flatMap((r) => r.corrIds)).toEqual(sizes.map((_, i) => `c${i}`));
  });

  it("flushes the queue for the old destination first when a channel's `to` changes", async () => {
    const { coalescer, records } = recorder();
    const ch = channel("a");
    coalescer.add(ch, "one@fame.fabric", msg("a1"));
    coalescer.add(ch, "one@fame.fabric", msg("a2"));
    coalescer.add(ch, "two@fame.fabric", msg("b1"));
    expect(records).toEqual([
      { channel: ch, to: "one@fame.fabric", corrIds: ["a1", "a2"], more: [false, false] },
    ]);
    coalescer.add(ch, "two@fame.fabric", msg("b2"));
    await nextTick();
    expect(records.map((r) => [r.to, r.corrIds])).toEqual([
      ["one@fame.fabric", ["a1", "a2"]],
      ["two@fame.fabric", ["b1", "b2"]],
    ]);
  });

  it("keeps separate channels in separate records", async () => {
    const { coalescer, records } = recorder();
    const a = channel("a");
    const b = channel("b");
    coalescer.add(a, "x@fame.fabric", msg("a1"));
    coalescer.add(b, "x@fame.fabric", msg("b1"));
    coalescer.add(a, "x@fame.fabric", msg("a2"));
    coalescer.add(b, "x@fame.fabric", msg("b2"));
    await nextTick();
    expect(records).toHaveLength(2);
    expect(records.find((r) => r.channel === a)?.corrIds).toEqual(["a1", "a2"]);
    expect(records.find((r) => r.channel === b)?.corrIds).toEqual(["b1", "b2"]);
  });

  it("flush(ch) sends that channel's queue early and leaves the others for the tick", async () => {
    const { coalescer, records } = recorder();
    const a = channel("a");
    const b = channel("b");
    coalescer.add(a, "x@fame.fabric", msg("a1"));
    coalescer.add(b, "x@fame.fabric", msg("b1"));
    coalescer.add(a, "x@fame.fabric", msg("a2"));
    coalescer.flush(a);
    expect(records).toEqual([
      { channel: a, to: "x@fame.fabric", corrIds: ["a1", "a2"], more: [false, false] },
    ]);
    coalescer.flush(a); // nothing queued: nothing sent
    expect(records).toHaveLength(1);
    await nextTick();
    expect(records.map((r) => r.corrIds)).toEqual([["a1", "a2"], ["b1"]]);
  });

  it("schedules again after a flush: a later turn gets its own record", async () => {
    const { coalescer, records } = recorder();
    const ch = channel("a");
    coalescer.add(ch, "x@fame.fabric", msg("t1"));
    await nextTick();
    coalescer.add(ch, "x@fame.fabric", msg("t2"));
    coalescer.add(ch, "x@fame.fabric", msg("t3"));
    await nextTick();
    expect(records.map((r) => r.corrIds)).toEqual([["t1"], ["t2", "t3"]]);
  });

  it("clear() drops and returns what is queued", async () => {
    const { coalescer, records } = recorder();
    coalescer.add(channel("a"), "x@fame.fabric", msg("a1"));
    coalescer.add(channel("b"), "x@fame.fabric", msg("b1"));
    expect(coalescer.clear().map((m) => m.corrId)).toEqual(["a1", "b1"]);
    await nextTick();
    expect(records).toHaveLength(0);
    expect(coalescer.pending).toBe(0);
  });

  it("accepts the limits' bounds and refuses values outside them", () => {
    const emit = () => {};
    expect(() => new RecordCoalescer(emit, { maxMessages: 1 })).not.toThrow();
    expect(() => new RecordCoalescer(emit, { maxMessages: MAX_BATCH_ENTRIES })).not.toThrow();
    for (const maxMessages of [0, MAX_BATCH_ENTRIES + 1, 2.5, Number.NaN, -1]) {
      expect(() => new RecordCoalescer(emit, { maxMessages })).toThrow(RangeError);
    }
    for (const maxJsonUnits of [0, -5, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new RecordCoalescer(emit, { maxJsonUnits })).toThrow(RangeError);
    }
    expect(DEFAULT_COALESCER_LIMITS.maxMessages).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
  });
});
