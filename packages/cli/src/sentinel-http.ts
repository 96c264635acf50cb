/**
 * The sentinel's operator endpoints over HTTPS (status, drain): where the sentinel is, which CA
 * to trust and which admin token to send, from the environment first, then the checkout.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { trustProblem, withTrustHint } from "@fame/sdk/codes";
import type { Checkout } from "./checkout.js";
import { CliError, EXIT, usageError } from "./exit-codes.js";

const MAX_BODY = 8 * 1024 * 1024;
export const STATUS_PATH = "/fame/v1/status";
export const drainPath = (systemId: string) => `/fame/v1/nodes/${encodeURIComponent(systemId)}/drain`;
export const resumePath = (systemId: string) => `/fame/v1/nodes/${encodeURIComponent(systemId)}/resume`;

export interface SentinelTarget {
  /** https://host:port */
  origin: string;
  ca: string | undefined;
  token: string | undefined;
  /** where the token came from (a setting, or the checkout's file), for a refusal's message */
  tokenSource?: string;
  timeoutMs: number;
}

/**
 * The sentinel's HTTP origin from its attach URL (wss://host:port/… → https://host:port).
 * `source` names where the URL came from in errors: the option or the setting.
 */
export function originOfAttachUrl(url: string, source = "FAME_SENTINEL_URL"): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`${source}: "${url}" is not a URL (e.g. https://127.0.0.1:8000)`);
  }
  const scheme = { "wss:": "https:", "ws:": "http:", "https:": "https:", "http:": "http:" }[parsed.protocol];
  if (scheme === undefined) throw usageError(`${source}: unexpected scheme ${parsed.protocol}`);
  return `${scheme}//${parsed.host}`;
}

function readSettingFile(file: string, setting: string): string {
  try {
    const text = readFileSync(file, "utf8").trim();
    if (text === "") throw new Error("empty file");
    return text;
  } catch (err) {
    throw usageError(`${setting}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export interface TargetOptions {
  /** --url: the sentinel's https://host:port */
  url?: string;
  timeoutMs: number;
}

export function sentinelTarget(
  opts: TargetOptions,
  env: NodeJS.ProcessEnv,
  checkout: Checkout | undefined,
): SentinelTarget {
  let origin: string;
  if (opts.url !== undefined) origin = originOfAttachUrl(opts.url, "--url");
  else if (env["FAME_SENTINEL_URL"]) origin = originOfAttachUrl(env["FAME_SENTINEL_URL"]);
  else if (checkout !== undefined) {
    try {
      origin = checkout.topology.fabricSettings(env).urls.sentinel;
    } catch (err) {
      throw usageError((err as Error).message);
    }
  } else {
    throw usageError(
      "which sentinel? pass --url https://host:port, set FAME_SENTINEL_URL " +
        '(eval "$(fame env --root <checkout> --admin)"), or run inside the checkout',
    );
  }
  const caFile = env["FAME_CA_CERTS"] || checkout?.topology.TRUST_BUNDLE;
  const ca = caFile ? readSettingFile(caFile, "FAME_CA_CERTS") : undefined;
  let token = env["FAME_SENTINEL_ADMIN_TOKEN"] || undefined;
  let tokenSource = token === undefined ? undefined : "FAME_SENTINEL_ADMIN_TOKEN";
  if (token === undefined && env["FAME_SENTINEL_ADMIN_TOKEN_FILE"]) {
    token = readSettingFile(env["FAME_SENTINEL_ADMIN_TOKEN_FILE"], "FAME_SENTINEL_ADMIN_TOKEN_FILE");
    tokenSource = `FAME_SENTINEL_ADMIN_TOKEN_FILE=${env["FAME_SENTINEL_ADMIN_TOKEN_FILE"]}`;
  }
  // The checkout's dev token goes to the checkout's own sentinel only: a shell set up for another
  // fabric (its FAME_SENTINEL_URL, or --url) must not carry this one's token there.
  if (token === undefined && checkout !== undefined && origin === checkoutOrigin(checkout, env)) {
    try {
      token = readFileSync(checkout.topology.ADMIN_TOKEN_FILE, "utf8").trim() || undefined;
      if (token !== undefined) tokenSource = checkout.topology.ADMIN_TOKEN_FILE;
    } catch {
      // no dev token: the request goes without one and the sentinel's answer says what it needs
    }
  }
  return {
    origin,
    ca,
    token,
    ...(tokenSource === undefined ? {} : { tokenSource }),
    timeoutMs: opts.timeoutMs,
  };
}

/** the checkout's dev sentinel, https://host:port; undefined when its settings cannot be read */
function checkoutOrigin(checkout: Checkout, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return checkout.topology.fabricSettings(env).urls.sentinel;
  } catch {
    return undefined;
  }
}

/** what to tell a user whose request the sentinel refused for want of the right admin token */
export function adminTokenHint(t: SentinelTarget): string {
  return t.token === undefined
    ? ' (no admin token was sent: set FAME_SENTINEL_ADMIN_TOKEN[_FILE], e.g. eval "$(fame env --admin)" in the fabric\'s checkout)'
    : ` (the admin token sent came from ${t.tokenSource ?? "the environment"}: is it this sentinel's?)`;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** One request to the sentinel; network failures become exit code 3, with the URL in the message. */
export function sentinelRequest(
  target: SentinelTarget,
  method: "GET" | "POST",
  path: string,
): Promise<HttpAnswer> {
  const url = `${target.origin}${path}`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.token !== undefined) headers["authorization"] = `Bearer ${target.token}`;
  const request = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers, timeout: target.timeoutMs, ...(target.ca ? { ca: target.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY)
            req.destroy(
              new Error(
                `the sentinel's answer is larger than ${MAX_BODY / (1024 * 1024)} MiB (more nodes than a status page can list: the dashboard and GET /metrics stay bounded)`,
              ),
            );
          else chunks.push(chunk);
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text for the error message
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(Object.assign(new Error(`no answer within ${target.timeoutMs} ms`), { code: "ETIMEDOUT" })),
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      const unreachable = err.code === "ETIMEDOUT" || (err.code !== undefined && UNREACHABLE.has(err.code));
      // a TLS server reset by a plain HTTP request looks like a stopped one: say which it may be
      const plainToTls = err.code === "ECONNRESET" && target.origin.startsWith("http:");
      const hint = plainToTls
        ? `is the fabric running (make start), or does it speak https? (${target.origin.replace("http:", "https:")})`
        : "is the fabric running? (make start)";
      reject(
        trustProblem(err.message) !== undefined
          ? new CliError(`${url}: ${withTrustHint(err.message)}`, EXIT.usage)
          : new CliError(
              unreachable
                ? `no sentinel answers at ${target.origin} (${err.code === "ETIMEDOUT" ? err.message : err.code}): ${hint}`
                : `${url}: ${err.message}`,
              unreachable ? EXIT.unreachable : EXIT.failure,
            ),
      );
    });
    if (method === "POST") req.setHeader("content-length", "0");
    req.end();
  });
}

/** The sentinel's error answer as one line: `HTTP 404 not_found: no attached node by that id`. */
export function describeRefusal(answer: HttpAnswer): string {
  const b = answer.body as { error?: unknown; error_description?: unknown } | string;
  if (typeof b === "object" && b !== null) {
    const parts = [b.error, b.error_description].filter((p) => typeof p === "string");
    if (parts.length > 0) return `HTTP ${answer.status} ${parts.join(": ")}`;
  }
  return `HTTP ${answer.status}`;
}
