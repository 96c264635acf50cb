/** Strict PEM handling: we decode base64 ourselves instead of letting x509 guess the encoding. */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

export function encodePem(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

/**
 * DER bodies of every `label` block in `text`, in order. Text outside blocks is ignored
 * (bundles often carry comments); a block with another label is an error when `strict`.
 */
export function decodePemBlocks(text: string, label: string, maxBlocks: number, strict = true): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (m[1] !== label) {
      if (strict) throw new TypeError(`unexpected PEM block ${m[1]}`);
      continue;
    }
    if (out.length >= maxBlocks) throw new TypeError(`more than ${maxBlocks} ${label} blocks`);
    const b64 = m[2]!.replace(/\r?\n/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new TypeError("bad base64 in PEM");
    out.push(new Uint8Array(Buffer.from(b64, "base64")));
  }
  return out;
}

/** Strict standard base64 (as in JWS x5c) to bytes; null when not base64. */
export function decodeBase64Strict(text: string): Uint8Array | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, "base64"));
}
