import { defaultBackend } from "@fame/crypto";
import {
  type DataEnc,
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  encodeBinaryRecord,
  encodeRecordAsText,
  isBinaryRecord,
  makeEnvelope,
} from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { SecureChannel } from "../src/channel/secure-channel.js";

const backend = defaultBackend();

/** both ends of one channel, keyed as a handshake would key them */
function channelPair(): { client: SecureChannel; replica: SecureChannel } {
  const c = backend.x25519Keygen();
  const r = backend.x25519Keygen();
  const common = {
    backend,
    clientEphPub: c.publicKey,
    replicaEphPub: r.publicKey,
    clientSid: "cS1",
    replicaSid: "rS1",
    now: 0,
  };
  return {
    client: new SecureChannel("cid-1", "client", "rS1", "echo@fame.fabric", {
      ...common,
      sharedSecret: backend.x25519SharedSecret(c.secretKey, r.publicKey),
    }),
    replica: new SecureChannel("cid-1", "replica", "cS1", "rpc@/s/c", {
      ...common,
      sharedSecret: backend.x25519SharedSecret(r.secretKey, c.publicKey),
    }),
  };
}

function request(): Envelope {
  return makeEnvelope({
    sid: "cS1",
    to: "echo@fame.fabric",
    replyTo: "rpc@/s/c",
    corrId: "k1",
    frame: { type: "Data", codec: "json", payload: null },
  });
}

describe("SecureChannel, binary records", () => {
  const json = JSON.stringify({ data: "x".repeat(70_000) });

  it("seals to bytes that open after the binary wire form", () => {
    const { client, replica } = channelPair();
    const env = request();
    client.sealText(env, json, undefined, true);
    expect(isBinaryRecord(env)).toBe(true);
    const received = decodeBinaryRecord(encodeBinaryRecord(env));
    expect(replica.open(received)).toEqual(JSON.parse(json));
  });

  it("the same record opens from its text form (what a node without binary records gets)", () => {
    const { client, replica } = channelPair();
    // a coalesced record: no corrId of its own, the list is bound into the AAD
    const env = request();
    delete env.corrId;
    client.sealText(env, json, [{ corrId: "a" }, { corrId: "b", more: true }], true);
    const received = decodeEnvelope(encodeRecordAsText(env));
    expect((received.frame as DataEnc).ct.length).toBeGreaterThan(70_000);
    expect(replica.open(received)).toEqual(JSON.parse(json));
  });

  it("a header member changed on the way fails to open", () => {
    const { client, replica } = channelPair();
    const env = request();
    client.sealText(env, json, undefined, true);
    const received = decodeBinaryRecord(encodeBinaryRecord(env));
    received.corrId = "k2";
    expect(() => replica.open(received)).toThrow();
  });

  it("without binary the ciphertext is base64url text, as before", () => {
    const { client, replica } = channelPair();
    const env = request();
    client.sealText(env, json);
    expect(isBinaryRecord(env)).toBe(false);
    expect(replica.open(decodeEnvelope(encodeRecordAsText(env)))).toEqual(JSON.parse(json));
  });
});
