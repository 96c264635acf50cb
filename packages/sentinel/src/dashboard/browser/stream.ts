/**
 * Reads the dashboard's SSE stream with fetch() and a stream reader, so the admin token goes in
 * an Authorization header (EventSource cannot set one), and reconnects with a bounded backoff.
 */
import { SseParser } from "./sse-parser.js";
import type { WireHello, WireTick } from "./wire.js";

export const STREAM_PATH = "/fame/v1/dashboard/stream";

export type StreamStatus =
  | { state: "connecting" | "live" }
  | { state: "unauthorized"; message: string }
  | { state: "error"; message: string; retryInMs: number };

export interface StreamHandlers {
  hello(h: WireHello): void;
  tick(t: WireTick): void;
  status(s: StreamStatus): void;
}

const MAX_BACKOFF_MS = 10_000;

function errorText(body: string, status: number): string {
  try {
    const parsed = JSON.parse(body) as { error_description?: unknown };
    if (typeof parsed.error_description === "string") return parsed.error_description.slice(0, 200);
  } catch {
    // not JSON: fall through to the status
  }
  return `HTTP ${status}`;
}

/** Watches until `signal` aborts; stops by itself on 401/403 (a token is needed first). */
export async function watch(token: string | null, on: StreamHandlers, signal: AbortSignal): Promise<void> {
  let backoff = 1000;
  while (!signal.aborted) {
    on.status({ state: "connecting" });
    let failure: string;
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (token) headers["authorization"] = `Bearer ${token}`;
      const res = await fetch(STREAM_PATH, { headers, cache: "no-store", signal });
      if (res.status === 401 || res.status === 403) {
        on.status({ state: "unauthorized", message: errorText(await res.text(), res.status) });
        return;
      }
      if (!res.ok || res.body === null) {
        failure = errorText(await res.text(), res.status);
      } else {
        on.status({ state: "live" });
        backoff = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(value)) {
            if (ev.event === "hello") on.hello(JSON.parse(ev.data) as WireHello);
            else if (ev.event === "tick") on.tick(JSON.parse(ev.data) as WireTick);
          }
        }
        failure = "the sentinel ended the stream";
      }
    } catch (err) {
      if (signal.aborted) return;
      failure = err instanceof Error ? err.message : String(err);
    }
    on.status({ state: "error", message: failure, retryInMs: backoff });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, backoff);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  }
}
