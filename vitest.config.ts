import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
          testTimeout: 20_000,
        },
      },
      {
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
