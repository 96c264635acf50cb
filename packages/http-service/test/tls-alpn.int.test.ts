import { connect } from "node:tls";
import { requestJson } from "@fame/http-service/client";
import { type RunningService, startHttpService } from "@fame/http-service/server";
import { serverTlsFromEnv } from "@fame/http-service/tls";
import { createLogger } from "@fame/logger";
import { createTestPki, type TestPki } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The services choose ALPN by callback (selectHttp11) instead of node's default list, which
 * every accepted socket copies; negotiation must stay what node's https server does by default.
 */
let pki: TestPki;
let svc: RunningService;
beforeAll(async () => {
  pki = await createTestPki("fame-alpn");
  const tls = serverTlsFromEnv(pki.env);
  if (tls === null) throw new Error("no TLS material in the test PKI");
  svc = await startHttpService({
    name: "alpn-svc",
    port: 0,
    tls,
    logger: createLogger({ name: "alpn-svc", level: "silent" }),
    register: () => {},
  });
}, 30_000);
afterAll(async () => {
  await svc?.close();
  pki?.remove();
});

/** the protocol the server selected (false: none), or the TLS error code */
function negotiate(offer: string[] | undefined): Promise<string | false> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port: svc.port,
      ca: pki.trustBundle,
      servername: "localhost",
      ...(offer === undefined ? {} : { ALPNProtocols: offer }),
    });
    socket.once("secureConnect", () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe("ALPN of the HTTPS services", () => {
  it("selects http/1.1 when offered, none when nothing is offered, and refuses h2 alone", async () => {
    expect(await negotiate(["h2", "http/1.1"])).toBe("http/1.1");
    expect(await negotiate(["http/1.1"])).toBe("http/1.1");
    expect(await negotiate(undefined)).toBe(false);
    expect(await negotiate(["h2"])).toBe("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
  });

  it("still answers HTTP over it", async () => {
    const health = await requestJson(`${svc.url}/health`, { ca: pki.trustBundle });
    expect(health).toMatchObject({ status: "ok", service: "alpn-svc" });
  });
});
