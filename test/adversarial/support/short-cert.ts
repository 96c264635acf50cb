import { requestJson } from "@fame/http-service/client";
import { admissionOptionsFromEnv, createNodeCsr, HELLO_PATH, x5cOf } from "@fame/identity";

/** an admission made by hand, as any credential holder may: the certificate's lifetime its choice */
export interface RawAdmission {
  systemId: string;
  assignedPath: string;
  acceptedLogicals: string[];
  attachTicket: string;
  seed: Uint8Array;
  x5c: string[];
}

interface Hello {
  systemId: string;
  assignedPath: string;
  acceptedLogicals: string[];
  attachTicket: string;
  caGrant: { url: string; token: string };
}

/**
 * OAuth2 token → Welcome hello (with `instanceId`) → CSR → CA sign asking for `ttlSec` (the
 * CA's minimum is 60 s): a second certificate of one identity, short-lived on purpose.
 */
export async function admitWithTtl(
  nodeEnv: Record<string, string>,
  instanceId: string,
  ttlSec: number,
): Promise<RawAdmission> {
  const o = admissionOptionsFromEnv(nodeEnv);
  const ca = o.trustBundlePem!;
  const form = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const token = await requestJson<{ access_token: string }>(o.tokenUrl, {
    method: "POST",
    ca,
    headers: {
      authorization: `Basic ${Buffer.from(`${form(o.clientId)}:${form(o.clientSecret)}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "node.connect" }).toString(),
  });
  const hello = await requestJson<Hello>(`${o.welcomeUrl.replace(/\/+$/, "")}${HELLO_PATH}`, {
    method: "POST",
    ca,
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ instanceId, requestedLogicals: [] }),
  });
  const csr = await createNodeCsr({
    systemId: hello.systemId,
    assignedPath: hello.assignedPath,
    logicals: hello.acceptedLogicals,
  });
  const signed = await requestJson<{ certificatePem: string; chainPem: string }>(hello.caGrant.url, {
    method: "POST",
    ca,
    headers: { authorization: `Bearer ${hello.caGrant.token}`, "content-type": "application/json" },
    body: JSON.stringify({ csr: csr.csrPem, ttlSec }),
  });
  return {
    systemId: hello.systemId,
    assignedPath: hello.assignedPath,
    acceptedLogicals: hello.acceptedLogicals,
    attachTicket: hello.attachTicket,
    seed: csr.seed,
    x5c: x5cOf(signed.certificatePem, signed.chainPem),
  };
}
