import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "@fame/testkit";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { STANDALONE_TSCONFIG } from "./external-project.js";

/**
 * Every ```ts block of docs/writing-agents.md (and of the SDK's README) is a whole module a user could paste into a
 * project: each is type-checked, with the compiler options the doc gives a standalone project,
 * against the built SDK's declarations (what the packs ship; make test builds first). `vitest`
 * and `zod` resolve from the checkout's node_modules, as they would from the user's.
 */
const DOC = "docs/writing-agents.md";
const SDK_README = "packages/sdk/README.md";
/**
 * Where the blocks pretend to live (nothing is written there): inside the checkout, so the root
 * package.json makes them ESM and `vitest`, `zod` and `typescript` resolve from its node_modules.
 */
const VIRTUAL_DIR = join(REPO_ROOT, "test", "product", "doc-samples");

interface Block {
  /** the markdown file it comes from, relative to the checkout */
  doc: string;
  /** 1-based line of the block's first code line in the doc */
  line: number;
  code: string;
  file: string;
}

function tsBlocks(doc: string, dir = VIRTUAL_DIR): Block[] {
  const markdown = readFileSync(join(REPO_ROOT, doc), "utf8");
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```ts") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== "```") end++;
    // a block's first line names its file in the reader's project: `// src/stats-agent.ts`
    const named = lines[start]!.match(/^\/\/ ((?:src|test)\/[\w.-]+\.ts|vitest\.config\.ts)$/)?.[1];
    blocks.push({
      doc,
      line: start + 1,
      code: lines.slice(start, end).join("\n"),
      file: join(dir, named ?? `unnamed-${blocks.length + 1}.ts`),
    });
    i = end;
  }
  return blocks;
}

function compilerOptions(): ts.CompilerOptions {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    { ...STANDALONE_TSCONFIG.compilerOptions, noEmit: true, skipLibCheck: true },
    REPO_ROOT,
  );
  expect(errors).toEqual([]);
  return {
    ...options,
    rootDir: undefined,
    outDir: undefined,
    // the packages a reader installs, resolved to what `make pack` ships: the built declarations
    paths: { "@fame/sdk": [join(REPO_ROOT, "packages", "sdk", "dist", "index.d.ts")] },
  };
}

function check(blocks: Block[]): string[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const byFile = new Map(blocks.map((b) => [b.file, b]));
  const { fileExists, readFile, getSourceFile } = host;
  const dirs = new Set(blocks.flatMap((b) => [dirname(b.file), VIRTUAL_DIR]));
  const { directoryExists } = host;
  host.directoryExists = (d) => dirs.has(d) || (directoryExists?.call(host, d) ?? false);
  host.fileExists = (f) => byFile.has(f) || fileExists.call(host, f);
  host.readFile = (f) => byFile.get(f)?.code ?? readFile.call(host, f);
  host.getSourceFile = (f, language, onError, create) => {
    const block = byFile.get(f);
    return block
      ? ts.createSourceFile(f, block.code, language, true)
      : getSourceFile.call(host, f, language, onError, create);
  };
  const program = ts.createProgram(
    blocks.map((b) => b.file),
    options,
    host,
  );
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    const block = d.file ? byFile.get(d.file.fileName) : undefined;
    if (!d.file || d.start === undefined) return `TS${d.code}: ${text}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const where = block ? `${block.doc}:${block.line + line}:${character + 1}` : d.file.fileName;
    return `${where} TS${d.code}: ${text}`;
  });
}

describe("docs/writing-agents.md", () => {
  const markdown = readFileSync(join(REPO_ROOT, DOC), "utf8");
  const blocks = tsBlocks(DOC);
  // the SDK's README (shipped in its tarball) has a sample too; its own directory keeps names apart
  const readme = tsBlocks(SDK_README, join(VIRTUAL_DIR, "sdk-readme"));

  it("has TypeScript samples, each a whole file named on its first line", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const b of blocks) {
      expect(b.file, `block at line ${b.line} names its file (// src/….ts)`).not.toMatch(/unnamed-/);
      expect(b.code, `block at line ${b.line}`).toMatch(/^import /m);
    }
    expect(new Set(blocks.map((b) => b.file)).size, "file names are unique").toBe(blocks.length);
  });

  it("every TypeScript sample type-checks against the built SDK (standard decorators, strict)", () => {
    expect(readme.length, `${SDK_README} has a sample`).toBeGreaterThanOrEqual(1);
    expect(check([...blocks, ...readme])).toEqual([]);
  }, 120_000);

  it("the check itself finds a wrong sample (a type error, a missing export)", () => {
    const wrong = (code: string, name: string): Block => ({
      doc: "wrong.md",
      line: 1,
      code,
      file: join(VIRTUAL_DIR, name),
    });
    const found = check([
      wrong(
        'import { BaseAgent } from "@fame/sdk";\nexport const n: number = new BaseAgent();\n',
        "src/a.ts",
      ),
      wrong('import { noSuchThing } from "@fame/sdk";\nconsole.log(noSuchThing);\n', "src/b.ts"),
    ]);
    expect(found.some((d) => d.includes("TS2322"))).toBe(true);
    expect(found.some((d) => d.includes("TS2305"))).toBe(true);
  }, 120_000);

  it("gives the standalone tsconfig the external-install test compiles with", () => {
    const tsconfig = markdown.match(/```json\n(\{\n {2}"compilerOptions"[\s\S]*?)```/)?.[1];
    expect(tsconfig, "a ```json tsconfig block").toBeDefined();
    expect(JSON.parse(tsconfig!)).toEqual(STANDALONE_TSCONFIG);
  });
});
