const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const nativeWellFormed = (String.prototype as { isWellFormed?: unknown }).isWellFormed;

/**
 * Lone surrogates have no UTF-8 form; allowing them would let two different strings
 * encode (and so hash) identically. Node 20 has a native check; the regex is a fallback.
 */
export const isWellFormed: (s: string) => boolean =
  typeof nativeWellFormed === "function"
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);
