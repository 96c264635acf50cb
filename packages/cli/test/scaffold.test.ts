import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CliError, EXIT } from "../src/exit-codes.js";
import {
  checkAgentName,
  classNameOf,
  planStandaloneAgent,
  planWorkspaceAgent,
  render,
  standaloneDependencies,
  wrapLongConstants,
  writePlan,
} from "../src/scaffold.js";
import { fakeCheckout, REPO, run } from "./fake-io.js";

const temp = mkdtempSync(join(tmpdir(), "fame-cli-scaffold-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe("agent names", () => {
  it("accepts names safe for a directory, a package, a bin and an address", () => {
    for (const ok of ["stats", "order-book", "a", "x2", "a-b-c"]) expect(checkAgentName(ok)).toBe(ok);
  });

  it("refuses anything else with a usage error that says what is allowed", () => {
    for (const bad of [
      "Stats",
      "-x",
      "x-",
      "a--b",
      "9lives",
      "a_b",
      "a.b",
      "../x",
      "",
      "x".repeat(33),
      "sdk",
      "cli",
    ]) {
      const err = (() => {
        try {
          checkAgentName(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(EXIT.usage);
    }
  });

  it("makes class names from hyphenated names", () => {
    expect(classNameOf("order-book")).toBe("OrderBookAgent");
    expect(classNameOf("stats")).toBe("StatsAgent");
  });
});

describe("templates", () => {
  it("fill every placeholder and refuse a template with an unknown one", () => {
    expect(render("a {{x}} b {{x}}", { x: "1" })).toBe("a 1 b 1");
    expect(() => render("{{nope}}", {})).toThrow(/\{\{nope\}\}/);
  });

  it("workspace plan: services/<name> as @fame/<name> with a build reference to the SDK and a test", () => {
    const plan = planWorkspaceAgent(temp, { name: "order-book" });
    const byName = new Map(plan.files.map((f) => [f.path.slice(plan.dir.length + 1), f.content]));
    expect([...byName.keys()].sort()).toEqual(
      [
        "README.md",
        "package.json",
        "src/agent.ts",
        "src/bin.ts",
        "test/agent.test.ts",
        "tsconfig.json",
      ].sort(),
    );
    for (const content of byName.values()) expect(content).not.toMatch(/\{\{\w+\}\}/);
    const manifest = JSON.parse(byName.get("package.json")!) as Record<string, unknown>;
    expect(manifest["name"]).toBe("@fame/order-book");
    expect(manifest["dependencies"]).toEqual({ "@fame/sdk": "workspace:*", zod: "^4.6.7" });
    // vitest.config.ts maps exports to src/: each must be ./dist/*.js
    expect(manifest["exports"]).toEqual({ ".": { types: "./dist/agent.d.ts", default: "./dist/agent.js" } });
    expect(JSON.parse(byName.get("tsconfig.json")!).references).toEqual([{ path: "../../packages/sdk" }]);
    expect(byName.get("src/agent.ts")).toContain("export class OrderBookAgent extends BaseAgent");
    expect(byName.get("src/bin.ts")).toContain('"order-book@fame.fabric"');
  });

  it("refuses a name the workspace already has", () => {
    mkdirSync(join(temp, "services", "taken"), { recursive: true });
    expect(() => planWorkspaceAgent(temp, { name: "taken" })).toThrow(/already exists/);
  });

  it("standalone plan: dependencies on the tarballs of make pack when there are some", () => {
    const packs = join(temp, "packs");
    mkdirSync(packs);
    for (const f of ["fame-sdk-0.1.0.tgz", "fame-cli-0.1.0.tgz", "fame-config-0.1.0.tgz", "notes.txt"])
      writeFileSync(join(packs, f), "");
    // relative to the project: it can move with the checkout, or be committed beside it
    expect(standaloneDependencies(packs, "9.9.9", join(temp, "apps", "alone"))).toEqual({
      zod: "^4.6.7",
      "@fame/cli": "file:../../packs/fame-cli-0.1.0.tgz",
      "@fame/config": "file:../../packs/fame-config-0.1.0.tgz",
      "@fame/sdk": "file:../../packs/fame-sdk-0.1.0.tgz",
    });
    expect(standaloneDependencies(join(temp, "none"), "9.9.9", join(temp, "alone"))).toEqual({
      zod: "^4.6.7",
      "@fame/cli": "9.9.9",
      "@fame/sdk": "9.9.9",
    });
    const plan = planStandaloneAgent(
      join(temp, "alone"),
      { name: "stats" },
      standaloneDependencies(packs, "1.0.0", join(temp, "alone")),
    );
    const manifest = JSON.parse(plan.files.find((f) => f.path.endsWith("package.json"))!.content);
    expect(manifest.dependencies["@fame/sdk"]).toBe("file:../packs/fame-sdk-0.1.0.tgz");
    expect(plan.files.map((f) => f.path)).toContain(join(temp, "alone", ".gitignore"));
    expect(plan.files.map((f) => f.path)).toContain(join(temp, "alone", "vitest.config.ts"));
  });

  it("never overwrites: a non-empty standalone directory or an existing file is refused before any write", () => {
    const dir = join(temp, "busy");
    mkdirSync(dir);
    writeFileSync(join(dir, "keep.txt"), "mine");
    expect(() => planStandaloneAgent(dir, { name: "stats" }, {})).toThrow(/not empty/);
    const plan = planStandaloneAgent(join(temp, "fresh"), { name: "stats" }, {});
    mkdirSync(join(temp, "fresh", "src"), { recursive: true });
    writeFileSync(join(temp, "fresh", "src", "agent.ts"), "mine");
    expect(() => writePlan(plan)).toThrow(/refusing to overwrite/);
    expect(readFileSync(join(temp, "fresh", "src", "agent.ts"), "utf8")).toBe("mine");
    expect(() => readFileSync(join(temp, "fresh", "package.json"))).toThrow();
  });
});

describe("fame new agent", () => {
  const checkout = fakeCheckout();
  afterAll(() => checkout.remove());

  it("writes services/<name> in the checkout around cwd, and refuses the same name twice", async () => {
    const first = await run(["new", "agent", "stats", "--json"], {}, checkout.root);
    expect(first.code).toBe(EXIT.ok);
    const created = JSON.parse(first.out) as { dir: string; files: string[] };
    expect(created.dir).toBe(join(checkout.root, "services", "stats"));
    expect(created.files).toContain("src/bin.ts");
    const again = await run(["new", "agent", "stats"], {}, checkout.root);
    expect(again.code).toBe(EXIT.usage);
    expect(again.err).toContain("already exists");
  });

  it("outside a checkout asks for --root or --standalone; --standalone writes ./<name>", async () => {
    const r = await run(["new", "agent", "stats"], {}, temp);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain("--standalone");
    const s = await run(["new", "agent", "stats", "--standalone", "--packs", join(temp, "packs")], {}, temp);
    expect(s.code).toBe(EXIT.ok);
    expect(s.out).toContain(`created ${join(temp, "stats")}`);
    expect(s.err).toBe("");
    // the next steps name the checkout whose packs/ it was given
    expect(s.out).toContain(`npx fame env --agent --root ${temp})`);
    const noPacks = await run(
      ["new", "agent", "other", "--standalone", "--packs", join(temp, "nothing")],
      {},
      temp,
    );
    // no tarballs: refused before anything is written (no public registry holds @fame/*) …
    expect(noPacks.code).toBe(EXIT.usage);
    expect(noPacks.err).toContain("no tarballs in");
    expect(noPacks.err).toContain("--registry");
    expect(existsSync(join(temp, "other"))).toBe(false);
    // … unless a registry is asked for
    const registry = await run(
      ["new", "agent", "other", "--standalone", "--packs", join(temp, "nothing"), "--registry"],
      {},
      temp,
    );
    expect(registry.code).toBe(EXIT.ok);
    expect(
      JSON.parse(readFileSync(join(temp, "other", "package.json"), "utf8")).dependencies["@fame/sdk"],
    ).toMatch(/^\d/);
    // a bad name is said first, before where the project should go
    const bad = await run(["new", "agent", "Bad!"], {}, temp);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/lowercase/);
    const badStandalone = await run(["new", "agent", "Text_1", "--standalone"], {}, temp);
    expect(badStandalone.err).toMatch(/lowercase/);
  });
});

describe("generated code passes make lint unchanged", () => {
  const biome = join(REPO, "node_modules", ".bin", "biome");
  /** what `biome check --write` would make of a file at `path` in this repository */
  const checked = (path: string, content: string): string =>
    execFileSync(biome, ["check", "--write", `--stdin-file-path=${path}`], {
      cwd: REPO,
      input: content,
      encoding: "utf8",
    });

  it("for the longest name and a long address, in both kinds of project", () => {
    // the longest name in a workspace, a long address standalone: lines that could overflow
    const plans = [
      planWorkspaceAgent(temp, { name: `${"x".repeat(15)}-${"y".repeat(16)}` }),
      planStandaloneAgent(
        join(temp, "lint-alone"),
        { name: "x".repeat(32), address: `${"n".repeat(60)}@${"l".repeat(40)}.fame.fabric` },
        { "@fame/sdk": "1.0.0" },
      ),
    ];
    for (const plan of plans) {
      for (const f of plan.files.filter((file) => /\.(ts|json)$/.test(file.path))) {
        const path = join("services", "lint-check", f.path.slice(plan.dir.length + 1));
        expect(checked(path, f.content), f.path).toBe(f.content);
      }
    }
  });

  it("breaks a constant too long for one line the way the formatter does", () => {
    const long = `const ADDRESS = "${"a".repeat(100)}";`;
    expect(wrapLongConstants(`${long}\nconst B = "short";\n`)).toBe(
      `const ADDRESS =\n  "${"a".repeat(100)}";\nconst B = "short";\n`,
    );
  });
});
