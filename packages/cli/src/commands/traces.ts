/**
 * `fame traces`: an OTLP/HTTP receiver on loopback that draws each trace as a tree in the
 * terminal, for a look at a call's path (client → sentinel → replica) without a Jaeger or a
 * collector. The processes export to it with OTEL_EXPORTER_OTLP_ENDPOINT=http://<listen>.
 */
import { gunzipSync } from "node:zlib";
import type { Command } from "commander";
import { CliError, EXIT, usageError } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { OtlpShapeError, renderTrace, spansOf, TraceAssembler, type TraceSpan } from "../otlp-traces.js";

interface TracesFlags {
  listen?: string;
  quiet?: string;
  json?: boolean;
}

/** an export request, compressed or not (the SDK's batches are far smaller) */
const MAX_BODY = 4 * 1024 * 1024;
const DEFAULT_LISTEN = "127.0.0.1:4318";
const TICK_MS = 200;
/**
 * A trace is drawn once no span of it came for this long: long-running processes export in
 * batches every 5 s (OTEL_BSP_SCHEDULE_DELAY's default), a short-lived client at once, so a
 * shorter wait drew a call's client span apart from the sentinel's and replica's.
 */
const DEFAULT_QUIET_MS = 6000;

/** host:port to listen on; loopback unless an address is named */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw usageError(`--listen: "${value}" is not [host:]port (e.g. ${DEFAULT_LISTEN})`);
  return { host: (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

function traceJson(spans: readonly TraceSpan[], dropped: number, continued: boolean): string {
  return JSON.stringify({
    traceId: spans[0]?.traceId,
    ...(continued ? { continued } : {}),
    dropped,
    spans: spans.map((s) => ({ ...s, startNs: String(s.startNs), endNs: String(s.endNs) })),
  });
}

export async function runTraces(io: CliIo, flags: TracesFlags): Promise<void> {
  const { host, port } = parseListen(flags.listen ?? DEFAULT_LISTEN);
  const quietMs = flags.quiet === undefined ? DEFAULT_QUIET_MS : Number(flags.quiet);
  if (!Number.isInteger(quietMs) || quietMs < 0 || quietMs > 60_000)
    throw usageError(`--quiet: "${flags.quiet}" is not a number of milliseconds (0-60000)`);
  const assembler = new TraceAssembler(
    (spans, dropped, continued) => {
      io.out(
        flags.json
          ? `${traceJson(spans, dropped, continued)}\n`
          : `${renderTrace(spans, dropped, continued).join("\n")}\n\n`,
      );
    },
    { quietMs },
  );
  let refused = 0;
  // loaded here, not at start: every other command starts without an HTTP server library
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.post("/v1/traces", async (req, reply) => {
    const type = String(req.headers["content-type"] ?? "");
    if (!type.startsWith("application/json")) {
      refused++;
      return reply.code(415).send({
        error: "unsupported_media_type",
        error_description: "OTLP over HTTP as JSON only (http/json)",
      });
    }
    try {
      let body = req.body as Buffer;
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body, { maxOutputLength: MAX_BODY });
      assembler.add(spansOf(JSON.parse(body.toString("utf8"))), Date.now());
    } catch (err) {
      refused++;
      const why = err instanceof OtlpShapeError ? err.message : "not an OTLP JSON export";
      return reply.code(400).send({ error: "bad_request", error_description: why });
    }
    return reply.code(200).send({});
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "EADDRINUSE"
        ? `${host}:${port} is in use (another collector or Jaeger?): choose another with --listen`
        : `cannot listen on ${host}:${port}: ${(err as Error).message}`,
      EXIT.usage,
    );
  }
  // the port bound (port 0 asks the system for a free one)
  const bound = app.server.address();
  const at = typeof bound === "object" && bound !== null ? bound.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${at}`;
  io.err(
    `fame traces: listening on ${url}; export to it with OTEL_EXPORTER_OTLP_ENDPOINT=${url} ` +
      "(e.g. before make start and make run). Ctrl-C stops.\n",
  );
  const ticker = setInterval(() => assembler.flush(Date.now()), TICK_MS);
  await new Promise<void>((resolve) => {
    const stopListening = io.onInterrupt(() => {
      stopListening();
      resolve();
    });
  });
  clearInterval(ticker);
  await app.close();
  assembler.flush(Date.now(), true);
  io.err(
    `fame traces: ${assembler.tracesDone} traces, ${assembler.spansReceived} spans` +
      (refused > 0 ? `, ${refused} exports refused` : "") +
      "\n",
  );
}

export function registerTracesCommand(program: Command, io: CliIo): void {
  program
    .command("traces")
    .description("receive OTLP traces on loopback and draw each as a tree (no Jaeger needed)")
    .option("--listen <[host:]port>", `where to listen (default ${DEFAULT_LISTEN}, OTLP/HTTP's port)`)
    .option(
      "--quiet <ms>",
      `a trace is drawn once no span of it came for this long (default ${DEFAULT_QUIET_MS}: processes export every 5 s)`,
    )
    .option("--json", "one JSON object per trace, a line each")
    .action((flags: TracesFlags) => runTraces(io, flags));
}
