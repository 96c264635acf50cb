import { Writable } from "node:stream";
import { createLogger, LogSettingError, logLevelFromEnv } from "@fame/logger";
import { describe, expect, it } from "vitest";

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("logger", () => {
  it("writes JSON lines with the component name", () => {
    const out = capture();
    const log = createLogger({ name: "unit", destination: out.stream, level: "info" });
    log.info({ port: 1 }, "started");
    const [line] = out.lines();
    expect(line).toMatchObject({ name: "unit", msg: "started", port: 1, level: 30 });
  });

  it("redacts secrets at several depths", () => {
    const out = capture();
    const log = createLogger({ name: "unit", destination: out.stream, level: "info" });
    log.info(
      {
        token: "t0p",
        client: { client_secret: "s3cret", id: "c1" },
        req: { headers: { authorization: "Bearer abc" } },
        jwk: { d: "private-scalar", x: "public" },
      },
      "with secrets",
    );
    const text = JSON.stringify(out.lines()[0]);
    for (const secret of ["t0p", "s3cret", "Bearer abc", "private-scalar"])
      expect(text).not.toContain(secret);
    expect(text).toContain("public");
    expect(text).toContain("c1");
  });

  it("reads and validates FAME_LOG_LEVEL", () => {
    expect(logLevelFromEnv({})).toBe("info");
    expect(logLevelFromEnv({ FAME_LOG_LEVEL: "DEBUG" })).toBe("debug");
    expect(() => logLevelFromEnv({ FAME_LOG_LEVEL: "loud" })).toThrow(LogSettingError);
    expect(() => logLevelFromEnv({ FAME_LOG_LEVEL: "loud" })).toThrow(/FAME_LOG_LEVEL/);
  });

  it("honours the level", () => {
    const out = capture();
    const log = createLogger({ name: "unit", destination: out.stream, level: "warn" });
    log.info("hidden");
    log.warn("shown");
    expect(out.lines().map((l) => l["msg"])).toEqual(["shown"]);
  });
});
