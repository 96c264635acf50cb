import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createSecureContext, type SecureContext } from "node:tls";

/** distinct trust bundles kept; a process normally has one (its fabric's) */
const MAX_TRUST_CONTEXTS = 16;
const trustContexts = new Map<string, SecureContext>();

/**
 * The TLS client context that trusts `caPem`, built once per bundle. Building one parses every
 * certificate of the bundle; passing `ca` to each connection did that again on every dial, which
 * under a reconnect storm was a fifth of a node's CPU (docs/performance.md, Reconnect storm).
 */
export function trustContext(caPem: string): SecureContext {
  let context = trustContexts.get(caPem);
  if (context === undefined) {
    if (trustContexts.size >= MAX_TRUST_CONTEXTS) trustContexts.clear();
    context = createSecureContext({ ca: caPem });
    trustContexts.set(caPem, context);
  }
  return context;
}

export interface OutboundOptions {
  /** PEM trust bundle; undefined = system roots */
  ca?: string | undefined;
  timeoutMs?: number;
  /** responses larger than this are abandoned (untrusted peer) */
  maxBytes?: number;
}

export class OutboundError extends Error {
  constructor(
    readonly code: "timeout" | "too_large" | "network" | "bad_json" | "http_status",
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

/** One request: method (default GET), headers, body, plus the outbound bounds. */
export type OutboundRequest = {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
} & OutboundOptions;

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One HTTP(S) request with a private trust bundle, a deadline and a size cap.
 * Node's global fetch cannot take a CA per call without undici internals.
 */
export function requestRaw(url: string | URL, init: OutboundRequest = {}): Promise<RawResponse> {
  const u = typeof url === "string" ? new URL(url) : url;
  const timeoutMs = init.timeoutMs ?? 10_000;
  const maxBytes = init.maxBytes ?? 1024 * 1024;
  const doRequest = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    let deadline: NodeJS.Timeout | undefined;
    const fail = (err: OutboundError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      reject(err);
      req.destroy();
    };
    const req = doRequest(
      u,
      {
        method: init.method ?? "GET",
        headers: init.headers,
        // `ca` too: the agent pools kept-alive sockets by it, so a socket is only reused for
        // requests trusting what it was checked against
        ...(u.protocol === "https:" && init.ca ? { ca: init.ca, secureContext: trustContext(init.ca) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const tooLarge = () =>
          fail(new OutboundError("too_large", `response from ${u.host} exceeds ${maxBytes} bytes`));
        if (Number(res.headers["content-length"] ?? 0) > maxBytes) return tooLarge();
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) return tooLarge();
          chunks.push(c);
        });
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on("error", (err) => fail(new OutboundError("network", `${u.host}: ${err.message}`)));
      },
    );
    req.on("error", (err) => fail(new OutboundError("network", `${u.host}: ${err.message}`)));
    // A deadline for the whole exchange, not a socket idle timeout: an untrusted
    // peer trickling a byte now and then must not hold the caller for ever.
    deadline = setTimeout(
      () => fail(new OutboundError("timeout", `${u.host} did not answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

/** JSON request; non-2xx answers throw OutboundError("http_status") carrying the parsed body. */
export async function requestJson<T = unknown>(url: string | URL, init: OutboundRequest = {}): Promise<T> {
  const res = await requestRaw(url, { ...init, headers: { accept: "application/json", ...init.headers } });
  let parsed: unknown;
  try {
    parsed = res.body.length ? JSON.parse(res.body.toString("utf8")) : undefined;
  } catch {
    throw new OutboundError(
      "bad_json",
      `${String(url)} answered ${res.status} with a body that is not JSON`,
      res.status,
    );
  }
  if (res.status < 200 || res.status >= 300) {
    throw new OutboundError("http_status", `${String(url)} answered ${res.status}`, res.status, parsed);
  }
  return parsed as T;
}

/**
 * A fetch-compatible function bound to a trust bundle, for libraries that take
 * a custom fetch (jose's remote JWKS).
 */
export function fetchWithTrust(
  opts: OutboundOptions,
): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const body = init?.body ?? undefined;
    // Dropping a body we cannot send would turn the request into a different one.
    if (body !== undefined && typeof body !== "string") {
      throw new TypeError("fetchWithTrust sends string bodies only");
    }
    const url = input instanceof Request ? input.url : input;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const res = await requestRaw(url, {
      ...opts,
      method: init?.method ?? "GET",
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const h = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
    return new Response(res.body, { status: res.status, headers: h });
  };
}
