// Readiness and reachability checks: HTTPS GETs trusting only the dev bundle,
// a readiness line in a log, a port nobody listens on yet.
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

const MAX_BODY = 4 * 1024 * 1024;

export function trustBundle(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** GET over HTTPS with the dev trust bundle; resolves { status, body } or rejects. */
export function httpsGet(url, ca, { timeoutMs = 2000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", ca, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      let size = 0;
      res.on("data", (c) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`${url}: answer larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

export async function healthy(url, ca) {
  try {
    const res = await httpsGet(url, ca);
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

/** The first `maxBytes` of a file as text ("" when it cannot be read): logs can grow large. */
export function readHead(file, maxBytes = 8 * 1024 * 1024) {
  let fd;
  try {
    fd = openSync(file, "r");
    const len = Math.min(statSync(file).size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, 0);
    return buf.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether `needle` occurs in the first 8 MB of a file. */
export function logHas(file, needle) {
  return readHead(file).includes(needle);
}

/**
 * Polls `check` until it holds, `failed` reports a reason to give up, or the
 * deadline passes. Resolves { ok: true } or { ok: false, reason }.
 */
export async function waitFor(check, { timeoutMs, failed = async () => undefined, intervalMs = 200 }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return { ok: true };
    const reason = await failed();
    if (reason) return { ok: false, reason };
    await delay(intervalMs);
  }
  if (await check()) return { ok: true };
  return { ok: false, reason: `not ready within ${Math.round(timeoutMs / 1000)} s` };
}

/** Whether a TCP port on the host can be listened on right now. */
export function portFree(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
