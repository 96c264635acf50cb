import { timingSafeEqual, X509Certificate } from "node:crypto";
import {
  CertificateError,
  CsrError,
  createNodeCsr,
  type NodeCsr,
  verifyNodeCertificate,
} from "../pki/index.js";
import { NODE_CONNECT_SCOPE } from "../tokens/claims.js";
import { AdmissionError } from "./errors.js";
import { stepRequest, withDeadline } from "./http-step.js";
import { x5cOf } from "./pem.js";
import type { Admission, AdmitNodeOptions } from "./types.js";
import { readHelloAnswer, readSignAnswer, readTokenAnswer } from "./wire.js";

export const HELLO_PATH = "/fame/v1/welcome/hello";
const DEFAULT_STEP_TIMEOUT_MS = 10_000;

/**
 * Runs the whole admission: OAuth2 token → Welcome hello → local key + CSR →
 * CA signature → local verification of what the CA returned. Each step is
 * bounded by `timeoutMs` and fails with an AdmissionError naming it.
 */
export async function admitNode(opts: AdmitNodeOptions): Promise<Admission> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const ca = opts.trustBundlePem;
  const log = opts.logger?.child({ component: "admission", instance_id: opts.instanceId });
  // Checked first so a missing bundle does not cost a token, a ticket and a signed certificate.
  if (!ca) throw noTrustBundle();

  const welcomeUrl = new URL(opts.welcomeUrl);
  const sayHello = async (accessToken: string) =>
    readHelloAnswer(
      await stepRequest("hello", {
        url: `${welcomeUrl.href.replace(/\/+$/, "")}${HELLO_PATH}`,
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          instanceId: opts.instanceId,
          requestedLogicals: opts.requestedLogicals,
          ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
          ...(opts.systemId ? { systemId: opts.systemId } : {}),
        }),
        ca,
        timeoutMs,
      }),
      opts.requestedLogicals,
      // Plain ws/http in the answer only when we ourselves spoke plain HTTP (dev mode).
      welcomeUrl.protocol === "http:",
    );
  const kept = opts.tokenCache?.current();
  let hello: ReturnType<typeof readHelloAnswer>;
  if (kept === undefined) {
    hello = await sayHello(await fetchToken(opts, ca, timeoutMs, log));
  } else {
    try {
      hello = await sayHello(kept);
    } catch (err) {
      // a kept token Welcome no longer takes (revoked, keys rotated): once more with a fresh one
      if (!(err instanceof AdmissionError) || err.status !== 401) throw err;
      opts.tokenCache?.clear();
      log?.debug({ code: err.code }, "kept access token refused; fetching a new one");
      hello = await sayHello(await fetchToken(opts, ca, timeoutMs, log));
    }
  }
  log?.debug({ system_id: hello.systemId, assigned_path: hello.assignedPath }, "welcome admitted the node");

  const held = opts.previous;
  if (held !== undefined && keepsCertificate(held, hello, (opts.now ?? Date.now)())) {
    log?.debug({ system_id: hello.systemId, not_after: held.notAfter.toISOString() }, "certificate kept");
    return {
      ...held,
      attachTicket: hello.attachTicket,
      transportUrl: hello.transportUrl,
      transportUrls: hello.transportUrls,
      ticketExpiresAt: hello.ticketExpiresAt,
    };
  }

  let csr: NodeCsr;
  try {
    csr = await withDeadline(
      createNodeCsr({
        systemId: hello.systemId,
        assignedPath: hello.assignedPath,
        logicals: hello.acceptedLogicals,
        ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
      }),
      timeoutMs,
      "csr",
    );
  } catch (err) {
    if (err instanceof AdmissionError) throw err;
    const code = err instanceof CsrError ? err.code : "csr_failed";
    throw new AdmissionError("csr", code, (err as Error).message, undefined, { cause: err });
  }

  const signed = readSignAnswer(
    await stepRequest("sign", {
      url: hello.caSignUrl,
      method: "POST",
      headers: { authorization: `Bearer ${hello.caGrant}`, "content-type": "application/json" },
      body: JSON.stringify({ csr: csr.csrPem }),
      ca,
      timeoutMs,
    }),
  );

  const x5c = x5cOf(signed.certificatePem, signed.chainPem);
  const validity = await withDeadline(verifyIssued(opts, hello, csr, x5c), timeoutMs, "verify");
  log?.info(
    {
      system_id: hello.systemId,
      assigned_path: hello.assignedPath,
      not_after: validity.notAfter.toISOString(),
    },
    "node admitted and certified",
  );
  return {
    systemId: hello.systemId,
    assignedPath: hello.assignedPath,
    sid: hello.sid,
    acceptedLogicals: hello.acceptedLogicals,
    attachTicket: hello.attachTicket,
    transportUrl: hello.transportUrl,
    transportUrls: hello.transportUrls,
    certificatePem: signed.certificatePem,
    chainPem: signed.chainPem,
    x5c,
    seed: csr.seed,
    publicKey: csr.publicKey,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    ticketExpiresAt: hello.ticketExpiresAt,
  };
}

/**
 * The held certificate still serves: Welcome named the identity it binds (a different path,
 * sid or logical set needs a new one) and less than half of its lifetime has passed.
 */
function keepsCertificate(held: Admission, hello: ReturnType<typeof readHelloAnswer>, now: number): boolean {
  if (held.systemId !== hello.systemId || held.assignedPath !== hello.assignedPath || held.sid !== hello.sid)
    return false;
  const want = new Set(hello.acceptedLogicals);
  if (want.size !== held.acceptedLogicals.length || held.acceptedLogicals.some((l) => !want.has(l)))
    return false;
  const from = held.notBefore.getTime();
  const halfLife = from + (held.notAfter.getTime() - from) / 2;
  return now >= from && now < halfLife;
}

/** OAuth2 client credentials → an access token, kept in the node's cache when it has one. */
async function fetchToken(
  opts: AdmitNodeOptions,
  ca: string,
  timeoutMs: number,
  log: AdmitNodeOptions["logger"],
): Promise<string> {
  const answer = readTokenAnswer(
    await stepRequest("token", {
      url: opts.tokenUrl,
      method: "POST",
      headers: {
        authorization: basicAuth(opts.clientId, opts.clientSecret),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: NODE_CONNECT_SCOPE }).toString(),
      ca,
      timeoutMs,
    }),
  );
  opts.tokenCache?.store(answer.accessToken, answer.expiresInSec);
  log?.debug({ client_id: opts.clientId }, "access token obtained");
  return answer.accessToken;
}

/** Catches a CA that answered with someone else's certificate, key, identity or an untrusted chain. */
async function verifyIssued(
  opts: AdmitNodeOptions,
  hello: ReturnType<typeof readHelloAnswer>,
  csr: NodeCsr,
  x5c: string[],
): Promise<{ notBefore: Date; notAfter: Date }> {
  if (!opts.trustBundlePem) throw noTrustBundle();
  if (x5c.length === 0) throw new AdmissionError("verify", "bad_response", "no certificate returned");
  let verified: Awaited<ReturnType<typeof verifyNodeCertificate>>;
  try {
    verified = await verifyNodeCertificate({
      chain: x5c,
      trustBundlePem: opts.trustBundlePem,
      expectedSystemId: hello.systemId,
      ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
    });
  } catch (err) {
    const code = err instanceof CertificateError ? err.code : "cert_invalid";
    throw new AdmissionError("verify", code, (err as Error).message, undefined, { cause: err });
  }
  const sameKey =
    verified.publicKey.length === csr.publicKey.length &&
    timingSafeEqual(Buffer.from(verified.publicKey), Buffer.from(csr.publicKey));
  if (!sameKey)
    throw new AdmissionError("verify", "cert_key_mismatch", "certificate binds another public key");
  if (verified.path !== hello.assignedPath || verified.sid !== hello.sid) {
    throw new AdmissionError("verify", "cert_identity_mismatch", "certificate names another path");
  }
  const want = [...hello.acceptedLogicals].sort();
  const got = [...verified.logicals].sort();
  if (want.length !== got.length || want.some((l, i) => l !== got[i])) {
    throw new AdmissionError(
      "verify",
      "cert_identity_mismatch",
      "certificate carries other logicals than were accepted",
    );
  }
  // notAfter: the earliest along the verified path, i.e. when this certificate stops being usable.
  const leaf = new X509Certificate(Buffer.from(x5c[0]!, "base64"));
  return { notBefore: new Date(leaf.validFrom), notAfter: verified.notAfter };
}

function noTrustBundle(): AdmissionError {
  return new AdmissionError(
    "verify",
    "trust_bundle_required",
    "the fabric CA is private: trustBundlePem is needed to check the issued certificate",
  );
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}
