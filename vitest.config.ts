import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { defineConfig } from "vitest/config";

// Tests import workspace packages from their TypeScript sources, so unit tests
// need no build. Integration tests spawn real processes, which run the built
// dist/ output (`make test` builds first).
const root = fileURLToPath(new URL(".", import.meta.url));
const alias: Record<string, string> = {};
for (const group of ["packages", "services"]) {
  for (const dir of readdirSync(join(root, group))) {
    const entry = join(root, group, dir, "src", "index.ts");
    if (existsSync(entry)) alias[`@fame/${dir}`] = entry;
  }
}

// Vite's TypeScript transform does not lower TC39 standard decorators, which
// agents use (`@operation()`); files that contain one go through tsc instead.
const tc39Decorators = {
  name: "tc39-decorators",
  enforce: "pre" as const,
  transform(code: string, id: string) {
    if (!/\.[cm]?ts$/.test(id) || id.includes("node_modules") || !/^\s*@[A-Za-z_$]/m.test(code))
      return undefined;
    const out = ts.transpileModule(code, {
      fileName: id,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        sourceMap: true,
        verbatimModuleSyntax: false,
      },
    });
    return { code: out.outputText, map: out.sourceMapText ?? null };
  },
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        plugins: [tc39Decorators],
        resolve: { alias },
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
          testTimeout: 20_000,
        },
      },
      {
        plugins: [tc39Decorators],
        resolve: { alias },
        test: {
          name: "integration",
          include: ["**/*.int.test.ts"],
          exclude: ["**/node_modules/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Real processes on loopback: keep files sequential on a 2-core box.
          fileParallelism: false,
        },
      },
    ],
  },
});
