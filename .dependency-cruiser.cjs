// Import rules for packages/ and services/, checked by `make lint`
// (`depcruise` over every package's src/ and test/; see docs/architecture.md,
// "Layering rules"). Workspace imports (`@fame/<name>[/<subpath>]`) resolve to
// the TypeScript source of that entry (.dependency-cruiser.resolve.cjs), so the
// graph crosses package boundaries without a build.

/**
 * What each package's production code (src/) may import from the workspace,
 * besides its own files. Node built-ins and npm packages are not listed here
 * (package.json and `pnpm install` govern those). Test files are not bound by
 * this table: they may use testkit and the packages their subject builds on.
 */
const LAYERS = {
  "packages/crypto": [],
  "packages/config": [],
  "packages/logger": [],
  "packages/protocol": ["packages/crypto"],
  // tracing and metrics helpers over OpenTelemetry; nodes and the sentinel both use it
  "packages/telemetry": [],
  "packages/http-service": ["packages/config", "packages/logger"],
  // state shared between sentinels (memory, or NATS JetStream KV for a cluster)
  "packages/state": ["packages/config", "packages/logger"],
  "packages/identity": [
    "packages/crypto",
    "packages/protocol",
    "packages/logger",
    "packages/config",
    "packages/http-service",
  ],
  "packages/sdk": [
    "packages/protocol",
    "packages/crypto",
    "packages/logger",
    "packages/config",
    "packages/identity",
    "packages/http-service",
    "packages/telemetry",
  ],
  // the same ground as the SDK, but never the SDK: the sentinel is not a node
  "packages/sentinel": [
    "packages/protocol",
    "packages/crypto",
    "packages/logger",
    "packages/config",
    "packages/identity",
    "packages/http-service",
    "packages/telemetry",
    "packages/state",
  ],
  // test tooling: starts real processes over HTTPS, makes PKIs and raw nodes
  "packages/testkit": ["packages/http-service", "packages/identity"],
  // the fame command line: a fabric client (SDK) with the settings and logging below it
  "packages/cli": ["packages/sdk", "packages/config", "packages/logger", "packages/protocol"],
};
const identityAndBelow = [
  "packages/identity",
  "packages/http-service",
  "packages/protocol",
  "packages/crypto",
  "packages/logger",
  "packages/config",
];
for (const service of ["oauth2", "welcome", "ca"]) LAYERS[`services/${service}`] = identityAndBelow;
// Welcome places nodes across a cluster's sentinels, which it reads from the shared state
LAYERS["services/welcome"] = [...identityAndBelow, "packages/state"];
for (const service of ["math-agent", "math-client"]) {
  LAYERS[`services/${service}`] = ["packages/sdk", ...identityAndBelow];
}

const anyWorkspaceModule = "^(packages|services)/[^/]+/";
const alternatives = (dirs) => dirs.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");

const layering = Object.entries(LAYERS).map(([dir, allowed]) => ({
  name: `layering:${dir}`,
  severity: "error",
  comment:
    `${dir}/src may import only its own files` +
    (allowed.length ? ` and ${allowed.join(", ")}` : "") +
    " from the workspace. The layers keep dependencies pointing one way (down towards" +
    " crypto, config and logger), so a package can be understood, tested and loaded" +
    " without the ones above it. Move shared code down, or pass it in.",
  from: { path: `^${dir}/src/` },
  to: { path: anyWorkspaceModule, pathNot: `^(${alternatives([dir, ...allowed])})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "No import cycles, inside a package or between packages (type-only imports count):" +
        " a cycle means neither module can be understood, tested or loaded without the" +
        " other, and ESM evaluates one of them half-initialised. Break it by moving the" +
        " shared part into a module both import.",
      from: {},
      to: { circular: true },
    },
    {
      name: "resolvable-imports",
      severity: "error",
      comment:
        "Every import resolves (workspace ones to their src/ entry, without a build)." +
        " An import nobody can resolve is a bug, and an edge the other rules cannot see." +
        " Test fixtures are the exception: they are plain JS run as real processes against the" +
        " built dist/, which lint (before any build) cannot see.",
      from: { pathNot: "^test/[^/]+/fixtures/" },
      to: { couldNotResolve: true },
    },
    ...layering,
    {
      name: "no-package-imports-a-service",
      severity: "error",
      comment:
        "Nothing under packages/ (src or tests) imports from services/: services are" +
        " applications built on the packages, never the other way round.",
      from: { path: "^packages/" },
      to: { path: "^services/" },
    },
    {
      name: "no-test-code-in-production",
      severity: "error",
      comment:
        "Production code (src/, outside testkit) never imports testkit, test files or" +
        " test-only npm packages: they would ship, or fail to load where dev" +
        " dependencies are not installed.",
      from: { path: `${anyWorkspaceModule}src/`, pathNot: "^packages/testkit/" },
      to: {
        path: [
          "^packages/testkit/",
          `${anyWorkspaceModule}test/`,
          "\\.test\\.ts$",
          "(^|/)node_modules/(vitest|fast-check)/",
        ],
      },
    },
    {
      name: "dev-pki-only-in-dev-tooling",
      severity: "error",
      comment:
        "The dev PKI (@fame/identity/dev: packages/identity/src/dev.ts and src/dev/) is" +
        " development tooling for make pki, benches and tests. Production code, including" +
        " identity's own main entry, does not import it; testkit may.",
      from: {
        path: `${anyWorkspaceModule}src/`,
        pathNot: ["^packages/testkit/src/", "^packages/identity/src/dev(\\.ts$|/)"],
      },
      to: { path: "^packages/identity/src/dev(\\.ts$|/)" },
    },
    {
      name: "no-relative-import-across-packages",
      severity: "error",
      comment:
        "A package reaches another one only through its name (`@fame/<name>` or one of" +
        " its exports subpaths), never by a relative path into its src/ or dist/: that" +
        " would bypass the package's entry points and its package.json dependency.",
      from: { path: "^(packages|services)/([^/]+)/" },
      to: { dependencyTypes: ["local"], pathNot: "^$1/$2/" },
    },
    {
      name: "nodes-do-not-load-fastify",
      severity: "error",
      comment:
        "Agents, clients and the SDK never load fastify, not even through another" +
        " package: only @fame/http-service/server does, for the sentinel and the" +
        " identity services. Nodes take @fame/http-service/client, /tls or /main.",
      from: { path: "^(packages/sdk|services/math-agent|services/math-client)/src/" },
      to: { path: "(^|/)node_modules/fastify/", reachable: true },
    },
  ],
  options: {
    // npm packages are leaves of the graph; built output is never followed
    doNotFollow: { path: ["(^|/)node_modules/", "(^|/)dist/"] },
    // type-only imports are dependencies too
    tsPreCompilationDeps: true,
    webpackConfig: { fileName: ".dependency-cruiser.resolve.cjs" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "default"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
    skipAnalysisNotInRules: true,
  },
};
