// `make logs`: the last lines of each run/<name>.log, then new lines as they
// come (polling sizes, so rotation by restart-replica is followed too). JSON
// log lines are shown as one readable line each; RAW=1 shows them as written.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

const LEVELS = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);
const MAX_CHUNK = 1024 * 1024;

// every control character (newlines and tabs too), DEL, C1, line separators, bidi overrides
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text safe for the operator's terminal, on one line: log fields carry what nodes and anonymous
 * clients sent (a refused parameter's name, a health check's error message), and an ESC in
 * them must not clear the screen, recolour it, retitle it or write the clipboard (OSC 52).
 */
export function terminalSafe(text) {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function brief(value) {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/** FAME_SHOW_ENVELOPES records: the security metadata up front, ids left out. */
function envelopeFields(rec) {
  const parts = [String(rec.dir), String(rec.type)];
  if (rec.to) parts.push(`to=${rec.to}`);
  if (rec.sid) parts.push(`sid=${rec.sid}`);
  if (rec.sig) parts.push(`sig=${rec.sig.alg}`);
  if (rec.enc) parts.push(`enc=${rec.enc.alg} cid=${rec.enc.cid} seq=${rec.enc.seq}`);
  else if (rec.cid) parts.push(`cid=${rec.cid}`);
  if (rec.aft) parts.push("aft=present");
  if (rec.ct) parts.push(`ct=(${rec.ct})`);
  if (rec.payload !== undefined) parts.push(`payload=${brief(rec.payload)}`);
  if (rec.ok !== undefined) parts.push(`ok=${rec.ok}`);
  if (rec.code) parts.push(`code=${rec.code}`);
  if (rec.meta) parts.push(`meta=${brief(rec.meta)}`);
  return parts.join(" ");
}

/** One pino JSON line as `time LEVEL msg key=value …`; anything else unchanged. */
export function formatLine(line) {
  if (!line.startsWith("{")) return line;
  let rec;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  if (rec === null || typeof rec !== "object") return line;
  const time = typeof rec.time === "string" ? rec.time.slice(11, 23) : "";
  const level = LEVELS[rec.level] ?? String(rec.level ?? "");
  const fields =
    rec.msg === "envelope" && rec.dir
      ? envelopeFields(rec)
      : Object.entries(rec)
          .filter(([k]) => !SKIP.has(k))
          .map(([k, v]) => `${k}=${brief(v)}`)
          .join(" ");
  return `${time} ${level.padEnd(5)} ${rec.msg ?? ""}${fields ? `  ${fields}` : ""}`;
}

function readFrom(file, offset) {
  let fd;
  try {
    const size = statSync(file).size;
    // a smaller file was replaced (restart-replica keeps the old one as .log.1)
    const start = size < offset ? 0 : offset;
    const len = Math.min(size - start, MAX_CHUNK);
    if (len <= 0) return { text: "", next: start };
    fd = openSync(file, "r");
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, start);
    return { text: buf.toString("utf8"), next: start + len };
  } catch {
    return { text: "", next: 0 };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function tailOffset(file, lines) {
  try {
    const size = statSync(file).size;
    const back = Math.min(size, 64 * 1024);
    const { text } = readFrom(file, size - back);
    const parts = text.split("\n");
    // the last element is "" after a trailing newline
    const keep = parts.slice(-(lines + 1)).join("\n");
    return size - Buffer.byteLength(keep);
  } catch {
    return 0;
  }
}

export async function followLogs(files, { follow = true, raw = false, lines = 20 } = {}) {
  const prefix = files.length > 1;
  const width = Math.max(...files.map((f) => f.name.length));
  const state = files.map((f) => ({ ...f, offset: tailOffset(f.file, lines), partial: "" }));
  const print = (s, line) => {
    // raw lines too: a line that is not JSON is whatever the process printed
    const shown = terminalSafe(raw ? line : formatLine(line));
    process.stdout.write(`${prefix ? `${s.name.padEnd(width)} | ` : ""}${shown}\n`);
  };
  const drain = () => {
    for (const s of state) {
      const { text, next } = readFrom(s.file, s.offset);
      if (next < s.offset) s.partial = "";
      s.offset = next;
      if (!text) continue;
      const parts = (s.partial + text).split("\n");
      s.partial = parts.pop() ?? "";
      for (const line of parts) if (line.trim() !== "") print(s, line);
    }
  };
  drain();
  if (!follow) return;
  process.stdout.write(`(following ${files.length} log${files.length > 1 ? "s" : ""}; Ctrl-C to stop)\n`);
  // like tail -F: runs until the user interrupts it
  for (;;) {
    await delay(300);
    drain();
  }
}
