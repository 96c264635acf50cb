import { createHash } from "node:crypto";
import { type CertificateParts, certificateParts } from "./cert-parts.js";
import { PkiConfigError } from "./errors.js";
import { decodePemBlocks } from "./pem.js";
import { x509 } from "./x509.js";

/** Parsed trust anchors plus a digest identifying the bundle in cache keys. */
export interface TrustBundle {
  digest: string;
  /** parts split once here: every uncached chain verification looks up its anchor by subject */
  roots: { der: Uint8Array; cert: x509.X509Certificate; parts: CertificateParts }[];
}

const MAX_ROOTS = 32;
const parsed = new Map<string, TrustBundle>();
const MAX_PARSED = 16;

/**
 * Parse (and memoise) a PEM bundle of trust anchors. The bundle is local configuration, so a
 * bad one is a PkiConfigError, not a verdict on the certificate being checked.
 */
export function loadTrustBundle(pem: string): TrustBundle {
  const digest = createHash("sha256").update(pem).digest("hex");
  const hit = parsed.get(digest);
  if (hit) return hit;
  let roots: TrustBundle["roots"];
  try {
    roots = decodePemBlocks(pem, "CERTIFICATE", MAX_ROOTS, false).map((der) => ({
      der,
      cert: new x509.X509Certificate(der),
      parts: certificateParts(der),
    }));
  } catch (err) {
    throw new PkiConfigError(`trust bundle cannot be parsed: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new PkiConfigError("trust bundle holds no certificate");
  const bundle: TrustBundle = { digest, roots };
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!);
  parsed.set(digest, bundle);
  return bundle;
}
