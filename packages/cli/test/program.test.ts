import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../src/exit-codes.js";
import { NOT_CONFIGURED } from "../src/node-env.js";
import { createProgram } from "../src/program.js";
import { ADMIN_TOKEN, AGENT_SECRET, fakeCheckout, fakeIo, run, SECRET } from "./fake-io.js";

/** every command path, e.g. ["call"], ["new", "agent"] */
function commandPaths(): string[][] {
  const program = createProgram(fakeIo().io);
  const paths: string[][] = [];
  for (const cmd of program.commands) {
    if (cmd.name() === "help") continue;
    paths.push([cmd.name()]);
    for (const sub of cmd.commands) paths.push([cmd.name(), sub.name()]);
  }
  return paths;
}

/** a loopback port nobody listens on */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return typeof address === "object" && address ? address.port : 1;
}

describe("fame command line", () => {
  it("has --help on every command, exit 0", async () => {
    const paths = commandPaths();
    expect(paths.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining(["call", "stream", "ops", "status", "pins", "drain", "env", "new agent"]),
    );
    for (const path of paths) {
      const r = await run([...path, "--help"]);
      expect(r.code, path.join(" ")).toBe(EXIT.ok);
      expect(r.out).toContain(`Usage: fame ${path.join(" ")}`);
      // the global option a user outside a checkout needs is listed with every command
      expect(r.out, path.join(" ")).toContain("--root <checkout>");
    }
    const top = await run(["--help"]);
    expect(top.code).toBe(EXIT.ok);
    expect(top.out).toContain("Exit codes:");
  });

  it("prints its version with --version, exit 0", async () => {
    const r = await run(["--version"]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("answers an unknown command, a missing argument or an unknown option with exit 2", async () => {
    expect((await run(["bogus"])).code).toBe(EXIT.usage);
    const missing = await run(["call", "math@fame.fabric"]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.err).toContain("missing required argument 'operation'");
    expect((await run(["status", "--frobnicate"])).code).toBe(EXIT.usage);
  });

  it("refuses params that are not JSON before connecting (exit 2, says what JSON looks like)", async () => {
    const r = await run(["call", "math@fame.fabric", "add", "{x:3}"]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^fame: params must be JSON, e\.g\. '\{"x":3,"y":4\}'/);
    const scalar = await run(["call", "math@fame.fabric", "add", "3"]);
    expect(scalar.code).toBe(EXIT.usage);
    expect(scalar.err).toContain("params must be a JSON object of named parameters");
    const positional = await run(["call", "math@fame.fabric", "add", "[3,4]"]);
    expect(positional.code).toBe(EXIT.usage);
    expect(r.out).toBe("");
  });

  it("refuses a bad --timeout with exit 2", async () => {
    const r = await run(["call", "math@fame.fabric", "add", "{}", "--timeout", "soon"], {
      FAME_CONFIG: "/x",
    });
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("--timeout must be a duration");
  });

  it("says how to configure a node when nothing is configured and no checkout is around", async () => {
    const r = await run(["call", "math@fame.fabric", "add", "{}"], {}, tmpdir());
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain(NOT_CONFIGURED);
  });

  it("reports a configuration error by its setting (exit 2)", async () => {
    const r = await run(["call", "math@fame.fabric", "add", "{}"], {
      FAME_SECURITY_PROFILE: "strict-overlay",
      FAME_ADMISSION_PROFILE: "direct",
      FAME_ADMISSION_TOKEN: "t",
    });
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("FAME_ADMISSION_PROFILE");
  });

  it("exits 3 with the sentinel's address when no sentinel answers", async () => {
    const port = await closedPort();
    const r = await run(["status", "--url", `https://127.0.0.1:${port}`]);
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.err).toContain(`no sentinel answers at https://127.0.0.1:${port} (ECONNREFUSED)`);
    const drain = await run(["drain", "node1"], {
      FAME_SENTINEL_URL: `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`,
    });
    expect(drain.code).toBe(EXIT.unreachable);
  });

  it("prints no raw control characters, whatever text it echoes", async () => {
    const r = await run(["env", "--root", "\u001b[2J\rfake"]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("--root \\u001b[2J\\u000dfake: not a FAME checkout");
  });

  it("asks which sentinel when neither --url, FAME_SENTINEL_URL nor a checkout says", async () => {
    const r = await run(["pins"], {}, tmpdir());
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("which sentinel?");
  });
});

describe("fame env", () => {
  const checkout = fakeCheckout();
  afterAll(() => checkout.remove());

  it("prints export lines with absolute paths and the checkout's ports, client credential by default", async () => {
    const r = await run(["env", "--root", checkout.root]);
    expect(r.code).toBe(EXIT.ok);
    const lines = r.out.trim().split("\n");
    expect(lines.slice(0, -1).every((l) => l.startsWith("export FAME_"))).toBe(true);
    // a shell that ran `fame env --agent` before becomes a client again
    expect(lines.at(-1)).toBe("unset FAME_REQUESTED_LOGICALS");
    expect(lines).toContain("export FAME_SECURITY_PROFILE=strict-overlay");
    expect(lines).toContain("export FAME_ADMISSION_PROFILE=welcome");
    expect(lines).toContain("export FAME_ADMISSION_CLIENT_ID=fame-dev-client");
    expect(lines).toContain(`export FAME_ADMISSION_CLIENT_SECRET=${SECRET}`);
    expect(lines).toContain(`export FAME_CA_CERTS=${checkout.root}/certs/trust-bundle.pem`);
    expect(lines).toContain("export FAME_ADMISSION_TOKEN_URL=https://127.0.0.1:8443/oauth/token");
    // config/fabric.env moved the sentinel
    expect(lines).toContain("export FAME_SENTINEL_URL=wss://127.0.0.1:9100/fame/v1/attach/ws/downstream");
    expect(r.out).not.toContain("ADMIN");
    expect(r.err).toContain("is not running (make start there)");
    expect(r.out).not.toContain("export FAME_REQUESTED_LOGICALS");
  });

  it("--agent: the agent credential and its logicals; --admin: the token's file, never the token", async () => {
    const r = await run(["env", "--agent", "--admin", "--json"], {}, `${checkout.root}/config`);
    expect(r.code).toBe(EXIT.ok);
    const vars = JSON.parse(r.out) as Record<string, string>;
    expect(vars["FAME_ADMISSION_CLIENT_ID"]).toBe("fame-dev-agent");
    expect(vars["FAME_ADMISSION_CLIENT_SECRET"]).toBe(AGENT_SECRET);
    expect(vars["FAME_REQUESTED_LOGICALS"]).toBe("*.fame.fabric");
    expect(vars["FAME_SENTINEL_ADMIN_TOKEN_FILE"]).toBe(`${checkout.root}/certs/secrets/admin-token`);
    expect(r.out).not.toContain(ADMIN_TOKEN);
  });

  it("uses the ports the running fabric was started with (run/fabric.json), without the note", async () => {
    mkdirSync(join(checkout.root, "run"));
    writeFileSync(
      join(checkout.root, "run", "fabric.json"),
      JSON.stringify({ settings: { FAME_SENTINEL_PORT: "9200", FAME_OAUTH2_PORT: "9201" } }),
    );
    const r = await run(["env", "--root", checkout.root]);
    rmSync(join(checkout.root, "run"), { recursive: true });
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain("export FAME_SENTINEL_URL=wss://127.0.0.1:9200/fame/v1/attach/ws/downstream\n");
    expect(r.out).toContain("export FAME_ADMISSION_TOKEN_URL=https://127.0.0.1:9201/oauth/token\n");
    expect(r.err).toBe("");
  });

  it("outside a checkout without --root: exit 2 naming --root", async () => {
    const r = await run(["env"], {}, tmpdir());
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("--root");
    const bad = await run(["env", "--root", tmpdir()]);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toContain("not a FAME checkout");
  });
});

describe("fame call in a checkout", () => {
  const checkout = fakeCheckout();
  let port = 0;
  beforeAll(async () => {
    port = await closedPort();
  });
  afterAll(() => checkout.remove());

  it("fills in the dev fabric's settings and reports its identity services down with exit 3", async () => {
    const r = await run(
      ["call", "math@fame.fabric", "add", '{"x":3,"y":4}'],
      { FAME_OAUTH2_PORT: String(port) },
      checkout.root,
    );
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err).not.toContain(SECRET);
    expect(r.code).toBe(EXIT.unreachable);
  });
});

describe("the checkout's admin token goes to the checkout's sentinel only", () => {
  it("a shell's FAME_SENTINEL_URL naming another fabric gets no token of this checkout, and the refusal says none was sent", async () => {
    const { createServer: createHttpServer } = await import("node:http");
    const seen: (string | undefined)[] = [];
    const srv = createHttpServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "unauthorized", error_description: "no admin token sent" }));
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const address = srv.address();
    const port = typeof address === "object" && address ? address.port : 1;
    const checkout = fakeCheckout();
    try {
      const elsewhere = `ws://127.0.0.1:${port}/fame/v1/attach/ws/downstream`;
      const r = await run(["status"], { FAME_SENTINEL_URL: elsewhere }, checkout.root);
      expect(r.code).toBe(EXIT.failure);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeUndefined();
      expect(r.err).toMatch(/no admin token was sent/);
      // a token of the shell's own is sent, and the refusal says where it came from
      const again = await run(
        ["status"],
        { FAME_SENTINEL_URL: elsewhere, FAME_SENTINEL_ADMIN_TOKEN: "x".repeat(24) },
        checkout.root,
      );
      expect(seen[1]).toBe(`Bearer ${"x".repeat(24)}`);
      expect(again.err).toMatch(/came from FAME_SENTINEL_ADMIN_TOKEN/);
      expect(again.err + r.err).not.toContain(ADMIN_TOKEN);
    } finally {
      checkout.remove();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describe("fame drain against a sentinel that refuses the admin token", () => {
  it("says the token was refused, for a name as for an id (not that no node has that name)", async () => {
    const { createServer: createHttpServer } = await import("node:http");
    const srv = createHttpServer((_req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "unauthorized", error_description: "bad admin token" }));
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const address = srv.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 1}`;
    try {
      for (const node of ["ledger-2", "N1LBT1lV4L1ob0TbYo7HdH"]) {
        const r = await run(["drain", node, "--url", url], { FAME_SENTINEL_ADMIN_TOKEN: "wrong" });
        expect(r.code, node).toBe(EXIT.failure);
        expect(r.err, node).toMatch(/HTTP 401 unauthorized/);
        expect(r.err, node).not.toMatch(/no attached node/);
      }
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
