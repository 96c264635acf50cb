import { describe, expect, it } from "vitest";
import {
  type ChannelKeys,
  ChannelReceiver,
  type ChannelRecord,
  ChannelSender,
  deriveChannelKeys,
  getBackend,
  utf8Bytes,
} from "../src/index.js";
import { codeOf } from "./error-code.js";

describe.each([getBackend("native"), getBackend("noble")])(
  "$name back end: channel record layer",
  (backend) => {
    /** Both ends of a handshake, as the client and the replica would each compute them. */
    function handshake(ids = { cid: "ch-1", clientSid: "client-sid", replicaSid: "replica-sid" }) {
      const clientEph = backend.x25519Keygen();
      const replicaEph = backend.x25519Keygen();
      const common = {
        backend,
        clientEphPub: clientEph.publicKey,
        replicaEphPub: replicaEph.publicKey,
        ...ids,
      };
      const client = deriveChannelKeys({
        ...common,
        sharedSecret: backend.x25519SharedSecret(clientEph.secretKey, replicaEph.publicKey),
      });
      const replica = deriveChannelKeys({
        ...common,
        sharedSecret: backend.x25519SharedSecret(replicaEph.secretKey, clientEph.publicKey),
      });
      return { client, replica, common };
    }

    function pair(keys: { client: ChannelKeys; replica: ChannelKeys }, limit?: number, windowSize?: number) {
      return {
        clientSender: new ChannelSender({
          backend,
          keys: keys.client,
          role: "client",
          ...(limit ? { limit } : {}),
        }),
        replicaReceiver: new ChannelReceiver({
          backend,
          keys: keys.replica,
          role: "replica",
          ...(windowSize ? { windowSize } : {}),
        }),
        replicaSender: new ChannelSender({ backend, keys: keys.replica, role: "replica" }),
        clientReceiver: new ChannelReceiver({ backend, keys: keys.client, role: "client" }),
      };
    }

    const aad = utf8Bytes('{"type":"data","cid":"ch-1"}');

    it("derives matching keys on both sides, distinct per direction, with distinct key ids", () => {
      const { client, replica } = handshake();
      expect(client).toEqual(replica);
      expect(client.clientToReplica.key).not.toEqual(client.replicaToClient.key);
      expect(client.clientToReplica.kid).toMatch(/^[0-9a-f]{16}$/);
      expect(client.clientToReplica.kid).not.toBe(client.replicaToClient.kid);
    });

    it("binds the channel and session ids and rejects ambiguous or weak input", () => {
      const { client, common } = handshake();
      const secret = backend.randomBytes(32);
      const base = { ...common, sharedSecret: secret };
      const keys = deriveChannelKeys(base);
      expect(deriveChannelKeys({ ...base, cid: "ch-2" }).clientToReplica.key).not.toEqual(
        keys.clientToReplica.key,
      );
      expect(deriveChannelKeys({ ...base, replicaSid: "other" }).clientToReplica.key).not.toEqual(
        keys.clientToReplica.key,
      );
      expect(
        deriveChannelKeys({ ...base, clientEphPub: base.replicaEphPub, replicaEphPub: base.clientEphPub })
          .clientToReplica.key,
      ).not.toEqual(keys.clientToReplica.key);
      expect(codeOf(() => deriveChannelKeys({ ...base, cid: "a\0b" }))).toBe("bad_input");
      expect(codeOf(() => deriveChannelKeys({ ...base, clientSid: "" }))).toBe("bad_input");
      expect(codeOf(() => deriveChannelKeys({ ...base, sharedSecret: new Uint8Array(32) }))).toBe(
        "weak_shared_secret",
      );
      expect(client.clientToReplica.kid).not.toBe(keys.clientToReplica.kid);
    });

    it("round-trips both directions with sequence numbers starting at 1", () => {
      const ends = pair(handshake());
      for (let i = 1; i <= 5; i++) {
        const up = utf8Bytes(`request ${i}`);
        const record = ends.clientSender.seal(up, aad);
        expect(record.seq).toBe(i);
        expect(record.ct).toHaveLength(up.length + 16);
        expect(ends.replicaReceiver.open(record, aad)).toEqual(up);

        const down = new Uint8Array(1000 * i).fill(i);
        expect(ends.clientReceiver.open(ends.replicaSender.seal(down), new Uint8Array(0))).toEqual(down);
      }
      expect(ends.replicaReceiver.highestSeq).toBe(5);
    });

    it("never lets one direction's record open in the other direction", () => {
      const ends = pair(handshake());
      const record = ends.clientSender.seal(utf8Bytes("x"), aad);
      expect(codeOf(() => ends.clientReceiver.open(record, aad))).toBe("key_mismatch");
    });

    it("reports tampered ciphertext as decrypt_failed", () => {
      const ends = pair(handshake());
      const record = ends.clientSender.seal(utf8Bytes("pay 10"), aad);
      for (const index of [0, record.ct.length - 1]) {
        const ct = record.ct.slice();
        ct[index] = ct[index]! ^ 0x01;
        expect(codeOf(() => ends.replicaReceiver.open({ ...record, ct }, aad))).toBe("decrypt_failed");
      }
      expect(codeOf(() => ends.replicaReceiver.open({ ...record, ct: record.ct.subarray(0, 8) }, aad))).toBe(
        "decrypt_failed",
      );
      // A record moved to another sequence number uses another nonce, so it fails too.
      expect(codeOf(() => ends.replicaReceiver.open({ ...record, seq: 2 }, aad))).toBe("decrypt_failed");
    });

    it("reports a wrong AAD as aad_mismatch, and a forged check value as decrypt_failed", () => {
      const ends = pair(handshake());
      const record = ends.clientSender.seal(utf8Bytes("hello"), aad);
      expect(codeOf(() => ends.replicaReceiver.open(record, utf8Bytes("other header")))).toBe("aad_mismatch");
      // Attacker rewrites the check value to match its AAD: the tag still catches it.
      const other = utf8Bytes("other header");
      const forgedCheck = Buffer.from(backend.sha256(other).subarray(0, 8)).toString("hex");
      expect(codeOf(() => ends.replicaReceiver.open({ ...record, aadCheck: forgedCheck }, other))).toBe(
        "decrypt_failed",
      );
      expect(ends.replicaReceiver.open(record, aad)).toEqual(utf8Bytes("hello"));
    });

    it("reports records under another key as key_mismatch", () => {
      const ends = pair(handshake());
      const stranger = pair(handshake());
      const record = stranger.clientSender.seal(utf8Bytes("hi"), aad);
      expect(codeOf(() => ends.replicaReceiver.open(record, aad))).toBe("key_mismatch");
      // Even with our kid pasted on, the key is still wrong.
      expect(codeOf(() => ends.replicaReceiver.open({ ...record, kid: ends.replicaReceiver.kid }, aad))).toBe(
        "decrypt_failed",
      );
    });

    it("rejects a replayed record and a record older than the window", () => {
      const ends = pair(handshake(), undefined, 16);
      const first = ends.clientSender.seal(utf8Bytes("1"), aad);
      ends.replicaReceiver.open(first, aad);
      expect(codeOf(() => ends.replicaReceiver.open(first, aad))).toBe("replay");

      const held = ends.clientSender.seal(utf8Bytes("2"), aad);
      for (let i = 0; i < 16; i++)
        ends.replicaReceiver.open(ends.clientSender.seal(utf8Bytes("n"), aad), aad);
      // held.seq = 2, highest = 18: exactly window-size old.
      expect(ends.replicaReceiver.highestSeq).toBe(18);
      expect(codeOf(() => ends.replicaReceiver.open(held, aad))).toBe("replay");
    });

    it("accepts out-of-order delivery inside the window", () => {
      const ends = pair(handshake());
      const records = Array.from({ length: 20 }, (_, i) =>
        ends.clientSender.seal(utf8Bytes(`m${i + 1}`), aad),
      );
      const order = [3, 1, 2, 10, 4, 20, 5, 19, 6, 7, 8, 9, 11, 18, 12, 13, 14, 15, 16, 17];
      for (const seq of order) {
        expect(ends.replicaReceiver.open(records[seq - 1]!, aad)).toEqual(utf8Bytes(`m${seq}`));
      }
      for (const record of records)
        expect(codeOf(() => ends.replicaReceiver.open(record, aad))).toBe("replay");
    });

    it("does not let a forged record consume its sequence number", () => {
      const ends = pair(handshake());
      const record = ends.clientSender.seal(utf8Bytes("genuine"), aad);
      const forged = { ...record, ct: backend.randomBytes(record.ct.length) };
      expect(codeOf(() => ends.replicaReceiver.open(forged, aad))).toBe("decrypt_failed");
      expect(codeOf(() => ends.replicaReceiver.open(record, utf8Bytes("wrong")))).toBe("aad_mismatch");
      expect(ends.replicaReceiver.highestSeq).toBe(0);
      expect(ends.replicaReceiver.open(record, aad)).toEqual(utf8Bytes("genuine"));
    });

    it("refuses to seal past the record limit", () => {
      const ends = pair(handshake(), 3);
      for (let i = 0; i < 3; i++) ends.clientSender.seal(utf8Bytes("x"), aad);
      expect(ends.clientSender.remaining).toBe(0);
      expect(codeOf(() => ends.clientSender.seal(utf8Bytes("x"), aad))).toBe("limit_reached");
      expect(codeOf(() => ends.clientSender.seal(utf8Bytes("x"), aad))).toBe("limit_reached");
      expect(
        codeOf(() => new ChannelSender({ backend, keys: handshake().client, role: "client", limit: 0 })),
      ).toBe("bad_input");
    });

    it("rejects malformed records with bad_input", () => {
      const ends = pair(handshake());
      const record = ends.clientSender.seal(utf8Bytes("x"), aad);
      const bad: unknown[] = [
        { ...record, seq: 0 },
        { ...record, seq: 1.5 },
        { ...record, seq: "1" },
        { ...record, ct: "abc" },
        { ...record, kid: 7 },
        null,
      ];
      for (const candidate of bad) {
        expect(codeOf(() => ends.replicaReceiver.open(candidate as ChannelRecord, aad))).toBe("bad_input");
      }
    });
  },
);

describe("channel interop across back ends", () => {
  it("records sealed with native open with noble and back", () => {
    const native = getBackend("native");
    const noble = getBackend("noble");
    const input = {
      sharedSecret: native.randomBytes(32),
      clientEphPub: native.x25519Keygen().publicKey,
      replicaEphPub: native.x25519Keygen().publicKey,
      cid: "c",
      clientSid: "s1",
      replicaSid: "s2",
    };
    const keysNative = deriveChannelKeys({ ...input, backend: native });
    const keysNoble = deriveChannelKeys({ ...input, backend: noble });
    expect(keysNative).toEqual(keysNoble);
    const sender = new ChannelSender({ backend: native, keys: keysNative, role: "replica" });
    const receiver = new ChannelReceiver({ backend: noble, keys: keysNoble, role: "client" });
    const nobleSender = new ChannelSender({ backend: noble, keys: keysNoble, role: "replica" });
    const payload = native.randomBytes(4096);
    const record = sender.seal(payload, utf8Bytes("h"));
    expect(nobleSender.seal(payload, utf8Bytes("h"))).toEqual(record);
    expect(receiver.open(record, utf8Bytes("h"))).toEqual(payload);
  });
});
