import { DerError, readChildren, readSingle, TAG_SEQUENCE } from "./der.js";

/** Raw DER pieces of a certificate we compare or reuse byte-for-byte. */
export interface CertificateParts {
  issuerName: Uint8Array;
  subjectName: Uint8Array;
  spki: Uint8Array;
  /** Contents of the [3] extensions field's SEQUENCE, or null when absent. */
  extensions: Uint8Array | null;
}

/** Split a DER certificate into the TBS fields we need; throws DerError when malformed. */
export function certificateParts(certDer: Uint8Array): CertificateParts {
  const cert = readChildren(readSingle(certDer, TAG_SEQUENCE), 3);
  const tbs = cert[0];
  if (cert.length !== 3 || !tbs || tbs.tag !== TAG_SEQUENCE) throw new DerError("not a Certificate");
  const fields = readChildren(tbs.value, 12);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
  const issuer = fields[base + 2];
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!issuer || !subject || !spki || [issuer, subject, spki].some((f) => f.tag !== TAG_SEQUENCE)) {
    throw new DerError("TBSCertificate lacks issuer, subject or key");
  }
  const ext = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  return {
    issuerName: issuer.raw,
    subjectName: subject.raw,
    spki: spki.raw,
    extensions: ext ? readSingle(ext.value, TAG_SEQUENCE) : null,
  };
}
