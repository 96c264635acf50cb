/**
 * Deepest array/object nesting in a JSON text, scanning at most until `limit` is exceeded.
 * Runs before JSON.parse so a hostile `[[[[...` never reaches the parser; brackets inside
 * strings are skipped (jumping from quote to quote) so large string payloads cost little.
 * Malformed text is not diagnosed here — JSON.parse does that afterwards.
 */
export function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = closingQuote(text, i + 1);
      if (i < 0) return false;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      // An unmatched closer is a syntax error that JSON.parse reports at this very spot,
      // before it could descend into anything that follows.
      if (--depth < 0) return false;
    }
  }
  return false;
}

/** Index of the quote closing a string whose content starts at `from`, or -1 if unterminated. */
function closingQuote(text: string, from: number): number {
  let q = text.indexOf('"', from);
  while (q >= 0) {
    let backslashes = 0;
    for (let j = q - 1; j >= from && text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return -1;
}
