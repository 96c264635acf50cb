import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Admission,
  admissionOptionsFromEnv,
  admitNode,
  createNodeCsr,
  issueNodeCertificate,
  x5cOf,
} from "@fame/identity";
import { generateDevPki } from "@fame/identity/dev";
import { newId } from "@fame/protocol";

/** Real admission (OAuth2 → Welcome → CA) for a hand-driven node: identity, ticket, certificate, key. */
export function admitRaw(nodeEnv: Record<string, string>, logicals: string[] = []): Promise<Admission> {
  return admitNode({
    ...admissionOptionsFromEnv(nodeEnv),
    instanceId: `raw_${newId().replace(/[-_]/g, "x").slice(0, 16)}`,
    requestedLogicals: logicals,
  });
}

export interface Issuer {
  certPem: string;
  keyPem: string;
}

/** the intermediate CA of a dev PKI directory (what the fabric's CA signs with) */
export function issuerOf(pkiDir: string): Issuer {
  return {
    certPem: readFileSync(join(pkiDir, "intermediate-ca.pem"), "utf8"),
    keyPem: readFileSync(join(pkiDir, "intermediate-ca.key"), "utf8"),
  };
}

/** a second, unrelated dev PKI: its certificates chain to a root nobody trusts */
export async function foreignIssuer(): Promise<Issuer> {
  const dir = mkdtempSync(join(tmpdir(), "fame-foreign-pki-"));
  try {
    await generateDevPki({ dir });
    return issuerOf(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A certificate for an admitted node's identity, on a fresh key, signed by
 * `issuer` as of `now` (in the past: expired; in the future: not yet valid).
 */
export async function certificateFor(
  admission: Admission,
  issuer: Issuer,
  opts: { now?: Date; ttlSec?: number } = {},
): Promise<{ seed: Uint8Array; x5c: string[] }> {
  const csr = await createNodeCsr({
    systemId: admission.systemId,
    assignedPath: admission.assignedPath,
    logicals: admission.acceptedLogicals,
  });
  const issued = await issueNodeCertificate({
    csrPem: csr.csrPem,
    issuerCertPem: issuer.certPem,
    issuerKey: issuer.keyPem,
    expect: {
      systemId: admission.systemId,
      assignedPath: admission.assignedPath,
      logicals: admission.acceptedLogicals,
    },
    ttlSec: opts.ttlSec ?? 3600,
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { seed: csr.seed, x5c: x5cOf(issued.certificatePem, issuer.certPem) };
}

/** the instance id is inside the ticket; admitRaw made it, so read it back from the claims */
export function instanceOf(adm: Admission): string {
  const claims = JSON.parse(Buffer.from(adm.attachTicket.split(".")[1]!, "base64url").toString()) as {
    instance_id: string;
  };
  return claims.instance_id;
}
