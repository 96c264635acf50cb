import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { defineConfig } from "vitest/config";

// Tests import workspace packages from their TypeScript sources, so unit tests
// need no build. Integration tests spawn real processes, which run the built
// dist/ output (`make test` builds first).
const root = fileURLToPath(new URL(".", import.meta.url));
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * One alias per entry of each workspace package's `exports` map:
 * `@fame/<name>` and `@fame/<name>/<subpath>` go to the src/ file behind the
 * entry's dist/*.js, so a new subpath needs no edit here. Each alias matches
 * the whole specifier (a plain string alias would also catch its subpaths).
 */
function workspaceAliases(): { find: RegExp; replacement: string }[] {
  const alias: { find: RegExp; replacement: string }[] = [];
  for (const group of ["packages", "services"]) {
    for (const dir of readdirSync(join(root, group))) {
      const manifest = join(root, group, dir, "package.json");
      if (!existsSync(manifest)) continue;
      const { name, exports } = JSON.parse(readFileSync(manifest, "utf8")) as {
        name: string;
        exports?: Record<string, { default?: string }>;
      };
      for (const [subpath, target] of Object.entries(exports ?? {})) {
        const source = target.default?.replace(/^\.\/dist\/(.*)\.js$/, "src/$1.ts");
        if (!source?.startsWith("src/"))
          throw new Error(`${manifest}: exports["${subpath}"] is not ./dist/*.js`);
        const specifier = `${name}${subpath.slice(1)}`;
        alias.push({
          find: new RegExp(`^${escapeRegExp(specifier)}$`),
          replacement: join(root, group, dir, source),
        });
      }
    }
  }
  return alias;
}
const alias = workspaceAliases();

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
          include: [
            "packages/*/test/**/*.test.ts",
            "services/*/test/**/*.test.ts",
            "test/lint/**/*.test.ts",
            "test/product/**/*.test.ts",
            "test/bench/**/*.test.ts",
          ],
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
