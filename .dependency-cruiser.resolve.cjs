// Module resolution for dependency-cruiser (read as a webpack config, whose
// `resolve` part it uses): each workspace import `@fame/<name>[/<subpath>]`
// resolves to the TypeScript source behind that entry of the package's
// `exports` map (`./dist/x.js` → `src/x.ts`), so the graph runs through src/
// without a build, and a new subpath or package needs no edit here.
const { existsSync, readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const alias = {};
for (const group of ["packages", "services"]) {
  if (!existsSync(join(__dirname, group))) continue;
  for (const dir of readdirSync(join(__dirname, group))) {
    const manifest = join(__dirname, group, dir, "package.json");
    if (!existsSync(manifest)) continue;
    const { name, exports: entries = {} } = JSON.parse(readFileSync(manifest, "utf8"));
    for (const [subpath, target] of Object.entries(entries)) {
      const source = /^\.\/dist\/(.*)\.js$/.exec(target.default ?? "");
      if (!source) throw new Error(`${manifest}: exports["${subpath}"] is not ./dist/*.js`);
      // `$`: the whole specifier only (enhanced-resolve would also map its subpaths)
      alias[`${name}${subpath.slice(1)}$`] = join(__dirname, group, dir, "src", `${source[1]}.ts`);
    }
  }
}

module.exports = { resolve: { alias } };
