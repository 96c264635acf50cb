// every control character, DEL, C1, line/paragraph separators, bidi embeddings and isolates
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// the same, but tab and newline: for text that may span lines (a terminal's multi-line output)
const UNPRINTABLE_BUT_LINES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Every character that could move a terminal's cursor, recolour it or reorder what it shows
 * (ESC sequences, CR, bidi overrides), written as a `\uXXXX` escape; tabs and newlines too
 * unless `keepLines`. Inside JSON the escape is the same string, so JSON stays valid.
 */
export function escapeControls(text: string, keepLines = false): string {
  return text.replace(keepLines ? UNPRINTABLE_BUT_LINES : UNPRINTABLE, escaped);
}

/**
 * Text a peer chose (a parameter's name, a health check's error message), made fit for a log
 * line, an error description or an operator's table: at most `max` characters, on one line, with
 * every character that could move a terminal's cursor, recolour it or reorder what it shows
 * written as a `\uXXXX` escape.
 */
export function untrustedText(text: string, max = 200): string {
  return escapeControls(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** `untrustedText` in double quotes: a name from the wire, shown as a name. */
export function quotedName(text: string, max = 64): string {
  return `"${untrustedText(text, max).replace(/"/g, '\\"')}"`;
}
