const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** Base64 DER of each CERTIFICATE block, in order (whitespace removed). */
export function certificateBlocks(pem: string): string[] {
  const out: string[] = [];
  for (const m of pem.matchAll(CERT_BLOCK)) out.push(m[1]!.replace(/\s+/g, ""));
  return out;
}

/** x5c for a leaf and the chain the CA returned, which may or may not start with the leaf. */
export function x5cOf(certificatePem: string, chainPem: string): string[] {
  const leaf = certificateBlocks(certificatePem);
  const chain = certificateBlocks(chainPem);
  const out = [...leaf];
  for (const c of chain) if (!out.includes(c)) out.push(c);
  return out;
}
