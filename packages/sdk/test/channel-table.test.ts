import { defaultBackend } from "@fame/crypto";
import { createLogger } from "@fame/logger";
import { base64urlEncode, type Envelope, makeEnvelope, newId, type SecureOpen } from "@fame/protocol";
import { describe, expect, it, vi } from "vitest";
import {
  ChannelManager,
  type ChannelTransport,
  DEFAULT_CHANNEL_SETTINGS,
} from "../src/channel/channel-manager.js";

/**
 * A replica's channel table under SecureOpens from many clients: each client holds at most
 * maxPerPeer channels, and a full table makes room only by evicting a channel idle for
 * idleMs; a busy channel is never dropped for a newcomer.
 */
interface Answer {
  cid: string;
  ok: boolean;
  code?: string;
}

function replica(
  settings: { maxAccepted: number; maxPerPeer: number; idleMs: number; maxPerPrincipal?: number },
  principals: Record<string, string> = {},
) {
  const answers: Answer[] = [];
  const transport = {
    sid: "replicasid",
    replyAddress: "rpc@/sentinel0/replica",
    nodeSigner: undefined,
    send(init: { frame: { type: string; cid?: string; ok?: boolean; code?: string } }) {
      const f = init.frame;
      if (f.type === "SecureAccept")
        answers.push({ cid: f.cid!, ok: f.ok!, ...(f.code ? { code: f.code } : {}) });
      return init;
    },
  } as unknown as ChannelTransport;
  const channels = new ChannelManager(
    transport,
    { ...DEFAULT_CHANNEL_SETTINGS, ...settings },
    createLogger({ name: "test", level: "silent" }),
    () => true,
    undefined,
    (sid) => (principals[sid] === undefined ? undefined : { sid, principal: principals[sid] }),
  );
  const open = async (clientSid: string): Promise<Answer> => {
    const cid = newId();
    const env = makeEnvelope({
      sid: clientSid,
      to: "math@fame.fabric",
      replyTo: `rpc@/sentinel0/${clientSid}`,
      corrId: cid,
      frame: {
        type: "SecureOpen",
        cid,
        ephPub: base64urlEncode(defaultBackend().x25519Keygen().publicKey),
        alg: "CHACHA20P1305",
      },
    }) as Envelope<SecureOpen>;
    await channels.onSecureOpen(env);
    return answers.find((a) => a.cid === cid)!;
  };
  return { channels, open };
}

describe("replica channel table", () => {
  it("refuses a client beyond its per-client channel limit with too_many_channels", async () => {
    const { channels, open } = replica({ maxAccepted: 100, maxPerPeer: 3, idleMs: 60_000 });
    for (let i = 0; i < 3; i++) expect((await open("flooder")).ok).toBe(true);
    expect(await open("flooder")).toMatchObject({ ok: false, code: "too_many_channels" });
    expect((await open("victim")).ok).toBe(true);
    expect(channels.size).toBe(4);
  });

  it("never evicts a busy channel: with none idle a new open is refused", async () => {
    const { channels, open } = replica({ maxAccepted: 4, maxPerPeer: 10, idleMs: 60_000 });
    const victim = await open("victim");
    for (let i = 0; i < 3; i++) expect((await open(`c${i}`)).ok).toBe(true);
    expect(await open("attacker")).toMatchObject({ ok: false, code: "too_many_channels" });
    expect(channels.byId(victim.cid)).toBeDefined();
    expect(channels.size).toBe(4);
  });

  it("evicts a channel idle for idleMs to make room, keeping the busy ones", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { channels, open } = replica({ maxAccepted: 3, maxPerPeer: 10, idleMs: 60_000 });
      const idle = await open("idle");
      const busy = await open("busy");
      const busy2 = await open("busy2");
      vi.setSystemTime(Date.now() + 61_000);
      channels.byId(busy.cid)!.lastUsedAt = Date.now();
      channels.byId(busy2.cid)!.lastUsedAt = Date.now();
      expect((await open("newcomer")).ok).toBe(true);
      expect(channels.byId(idle.cid)).toBeUndefined();
      expect(channels.byId(busy.cid)).toBeDefined();
      expect(channels.byId(busy2.cid)).toBeDefined();
      // table full again, nothing idle: refused
      expect(await open("another")).toMatchObject({ ok: false, code: "too_many_channels" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("holds the client processes of one principal to one share of the table together", async () => {
    const principals = { m1: "mallory", m2: "mallory", m3: "mallory", alice: "alice" };
    const { channels, open } = replica(
      { maxAccepted: 100, maxPerPeer: 3, maxPerPrincipal: 5, idleMs: 60_000 },
      principals,
    );
    const mallory: Answer[] = [];
    for (const sid of ["m1", "m2", "m3"]) for (let i = 0; i < 3; i++) mallory.push(await open(sid));
    expect(mallory.filter((a) => a.ok)).toHaveLength(5);
    expect(mallory.filter((a) => !a.ok).every((a) => a.code === "too_many_channels")).toBe(true);
    // another principal, and a client without one, are not counted with mallory
    expect((await open("alice")).ok).toBe(true);
    expect((await open("nocert")).ok).toBe(true);
    expect(channels.size).toBe(7);
    // a closed channel gives its principal its place back
    const first = mallory.find((a) => a.ok)!;
    channels.onSecureClose(makeEnvelope({ sid: "m1", frame: { type: "SecureClose", cid: first.cid } }));
    expect((await open("m3")).ok).toBe(true);
    expect((await open("m3")).ok).toBe(false);
  });

  it("binds the client's identity to the channel at accept: a key that expires later takes nothing from it", async () => {
    const principals: Record<string, string> = { m1: "mallory" };
    const { channels, open } = replica(
      { maxAccepted: 100, maxPerPeer: 3, maxPerPrincipal: 5, idleMs: 60_000 },
      principals,
    );
    const accepted = await open("m1");
    // the peer's certificate expires: its key leaves the directory, it is known no more
    delete principals["m1"];
    expect(channels.byId(accepted.cid)?.caller).toEqual({ sid: "m1", principal: "mallory" });
  });

  it("gives a client its slots back when its channels close", async () => {
    const { channels, open } = replica({ maxAccepted: 100, maxPerPeer: 1, idleMs: 60_000 });
    const first = await open("client");
    expect((await open("client")).ok).toBe(false);
    // a close from another sid is ignored, the owner's is not
    channels.onSecureClose(makeEnvelope({ sid: "stranger", frame: { type: "SecureClose", cid: first.cid } }));
    expect((await open("client")).ok).toBe(false);
    channels.onSecureClose(makeEnvelope({ sid: "client", frame: { type: "SecureClose", cid: first.cid } }));
    expect((await open("client")).ok).toBe(true);
  });
});
