/**
 * Binary sealed records (issue 19): 512 KiB echoed sealed and in plaintext through a real
 * sentinel, and nodes of both forms mixed: a node with binary records off (an older release
 * as far as the wire goes) talks to one with them on, the sentinel handing each its own form.
 * FAME_SHOW_ENVELOPES shows a binary record's size, never its bytes.
 */
import { Writable } from "node:stream";
import { createLogger } from "@fame/logger";
import {
  Agent,
  BaseAgent,
  connectFabric,
  defineOperation,
  type Fabric,
  nodeConfigFromEnv,
  type RpcError,
} from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quietLogger, TestClients, tearDown } from "../support/fabric-clients.js";

class EchoAgent extends BaseAgent {
  async echo(params: { data: string }): Promise<string> {
    return params.data;
  }
}
defineOperation(EchoAgent, "echo", { idempotent: true });

interface EchoApi {
  echo(p: { data: string }): Promise<string>;
}

const KIB512 = 512 * 1024;
/** varied text, so a record that lost or reordered bytes cannot compare equal */
const payload = (n: number, seed: string) =>
  Array.from({ length: Math.ceil(n / 16) }, (_, i) =>
    `${seed}${i.toString(36).padStart(15, "0")}`.slice(0, 16),
  )
    .join("")
    .slice(0, n);

let stack: FabricStack | undefined;
const clients = new TestClients(() => stack!);
const replicas: Fabric[] = [];

/** an in-process replica serving EchoAgent at `address` (its own TLS link to the sentinel) */
async function startEcho(address: string, env: Record<string, string>): Promise<void> {
  const f = await connectFabric({
    config: nodeConfigFromEnv({ ...stack!.nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", ...env }),
    logger: quietLogger(),
    installDefault: false,
  });
  replicas.push(f);
  await new EchoAgent().serve(address, { endpoint: f.endpoint, drainOnSignal: false });
}

/** a client whose FAME_SHOW_ENVELOPES lines are kept */
async function watchedClient(env: Record<string, string>): Promise<{ f: Fabric; lines: string[] }> {
  const lines: string[] = [];
  const f = await connectFabric({
    config: nodeConfigFromEnv({ ...stack!.nodeEnv, FAME_SHOW_ENVELOPES: "1", ...env }),
    logger: createLogger({
      name: "watched",
      level: "info",
      destination: new Writable({
        write: (chunk, _e, cb) => {
          lines.push(String(chunk));
          cb();
        },
      }),
    }),
    installDefault: false,
  });
  replicas.push(f);
  return { f, lines };
}

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await startEcho("echo@fame.fabric", {});
  await startEcho("echo-old@fame.fabric", { FAME_BINARY_RECORDS: "0" });
}, 120_000);

afterAll(async () => {
  for (const r of replicas.splice(0)) await r.close();
  await tearDown(stack, clients);
});

describe("binary sealed records", () => {
  it("echoes 512 KiB sealed as binary records, shown by size", async () => {
    const { f, lines } = await watchedClient({ FAME_DEFAULT_ENCRYPTION_LEVEL: "channel" });
    const echo = Agent.remoteByAddress<EchoApi>("echo@fame.fabric", { endpoint: f.endpoint });
    const data = payload(KIB512, "s");
    expect(data.length).toBe(KIB512);
    const back = await Promise.all([echo.echo({ data }), echo.echo({ data: data.slice(1) })]);
    expect(back[0]).toBe(data);
    expect(back[1]).toBe(data.slice(1));
    const sealed = lines.filter((l) => l.includes("bytes sealed (binary)"));
    // requests out and answers in, both binary
    expect(sealed.some((l) => l.includes('"dir":"send"'))).toBe(true);
    expect(sealed.some((l) => l.includes('"dir":"recv"'))).toBe(true);
    // readable: no line carries the payload
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(4096);
  });

  it("echoes 512 KiB in plaintext", async () => {
    const f = await clients.connect({ FAME_DEFAULT_ENCRYPTION_LEVEL: "plaintext" });
    const echo = Agent.remoteByAddress<EchoApi>("echo@fame.fabric", { endpoint: f.endpoint });
    const data = payload(KIB512, "p");
    expect(await echo.echo({ data })).toBe(data);
  });

  it("a node with binary records off talks to one with them on, both ways, in text", async () => {
    const { f, lines } = await watchedClient({
      FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
      FAME_BINARY_RECORDS: "0",
    });
    const echo = Agent.remoteByAddress<EchoApi>("echo@fame.fabric", { endpoint: f.endpoint });
    const data = payload(64 * 1024, "o");
    expect(await echo.echo({ data })).toBe(data);
    expect(lines.some((l) => l.includes("chars sealed"))).toBe(true);
    expect(lines.some((l) => l.includes("(binary)"))).toBe(false);
  });

  it("a node with binary records on reaches a replica with them off", async () => {
    const { f, lines } = await watchedClient({ FAME_DEFAULT_ENCRYPTION_LEVEL: "channel" });
    const echo = Agent.remoteByAddress<EchoApi>("echo-old@fame.fabric", { endpoint: f.endpoint });
    const data = payload(KIB512, "n");
    const many = await Promise.all(Array.from({ length: 4 }, (_, i) => echo.echo({ data: `${i}${data}` })));
    expect(many).toEqual(Array.from({ length: 4 }, (_, i) => `${i}${data}`));
    // this client sent binary; the sentinel gave the old replica text
    expect(lines.some((l) => l.includes('"dir":"send"') && l.includes("(binary)"))).toBe(true);
  });

  it("1 MiB does not fit the default frame limit, sealed or not: the error names the setting", async () => {
    for (const level of ["channel", "plaintext"]) {
      const f = await clients.connect({ FAME_DEFAULT_ENCRYPTION_LEVEL: level });
      const echo = Agent.remoteByAddress<EchoApi>("echo@fame.fabric", { endpoint: f.endpoint });
      const err = (await echo.echo({ data: payload(1024 * 1024, "l") }).catch((e: unknown) => e)) as RpcError;
      expect(typeof err, level).toBe("object");
      expect(err.fameCode, level).toBe("frame_too_large");
      expect(err.message).toContain("FAME_MAX_FRAME_BYTES");
      // the link survived
      expect(await echo.echo({ data: "ok" })).toBe("ok");
    }
  });
});
