import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * scripts/pack.mjs (make pack), through the functions it exports; the tarballs themselves are
 * checked by external-install.int.test.ts.
 */
interface Manifest {
  name: string;
  version: string;
  [field: string]: unknown;
}
interface PackModule {
  PackError: new (message: string) => Error;
  workspacePackages(): Map<string, { dir: string; manifest: Manifest }>;
  packageClosure(workspace: Map<string, { dir: string; manifest: Manifest }>): string[];
  concreteRange(range: string, version: string): string;
  shippedManifest(manifest: Manifest, workspace: Map<string, { dir: string; manifest: Manifest }>): Manifest;
  staleOutput(dir: string): Set<string>;
  checkContents(result: { name: string; files: { path: string }[] }): void;
}

const SCRIPT = fileURLToPath(new URL("../../scripts/pack.mjs", import.meta.url));
const pack = (await import(pathToFileURL(SCRIPT).href)) as PackModule;
const scratch = mkdtempSync(join(tmpdir(), "fame-pack-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("make pack (scripts/pack.mjs)", () => {
  it("packs the SDK, the CLI and exactly their workspace dependencies, dependencies first", () => {
    const names = pack.packageClosure(pack.workspacePackages());
    expect([...names].sort()).toEqual(
      [
        "@fame/cli",
        "@fame/config",
        "@fame/crypto",
        "@fame/http-service",
        "@fame/identity",
        "@fame/logger",
        "@fame/protocol",
        "@fame/sdk",
        "@fame/telemetry",
      ].sort(),
    );
    expect(names.indexOf("@fame/crypto")).toBeLessThan(names.indexOf("@fame/protocol"));
    expect(names.indexOf("@fame/protocol")).toBeLessThan(names.indexOf("@fame/sdk"));
    expect(names.indexOf("@fame/sdk")).toBeLessThan(names.indexOf("@fame/cli"));
  });

  it("turns workspace ranges into the versions they name", () => {
    expect(pack.concreteRange("workspace:*", "0.1.0")).toBe("0.1.0");
    expect(pack.concreteRange("workspace:^", "0.1.0")).toBe("^0.1.0");
    expect(pack.concreteRange("workspace:~", "0.1.0")).toBe("~0.1.0");
    expect(pack.concreteRange("workspace:>=0.1.0", "0.2.0")).toBe(">=0.1.0");
  });

  it("ships a manifest with resolved ranges and without scripts or devDependencies", () => {
    const workspace = pack.workspacePackages();
    const sdk = workspace.get("@fame/sdk")!.manifest;
    const shipped = pack.shippedManifest(
      { ...sdk, scripts: { test: "vitest" }, devDependencies: { "@fame/testkit": "workspace:*" } },
      workspace,
    );
    expect(JSON.stringify(shipped)).not.toContain("workspace:");
    expect(shipped["scripts"]).toBeUndefined();
    expect(shipped["devDependencies"]).toBeUndefined();
    expect((shipped["dependencies"] as Record<string, string>)["@fame/protocol"]).toBe(
      workspace.get("@fame/protocol")!.manifest.version,
    );
    expect(shipped["exports"]).toEqual(sdk["exports"]);
    // the source manifest is left as it was
    expect((sdk["dependencies"] as Record<string, string>)["@fame/protocol"]).toBe("workspace:*");
  });

  it("refuses a tarball with maps, build info, keys, tests or sources; allows the CLI's templates", () => {
    const files = (...paths: string[]) => ({ name: "@fame/x", files: paths.map((path) => ({ path })) });
    expect(() =>
      pack.checkContents(
        files(
          "package.json",
          "README.md",
          "dist/index.js",
          "dist/index.d.ts",
          "templates/agent/test/agent.test.ts.tmpl",
        ),
      ),
    ).not.toThrow();
    for (const bad of [
      "dist/index.js.map",
      "dist/.tsbuildinfo",
      "dist/certs/server.pem",
      "dist/run/sentinel.pid",
      "dist/secrets/admin-token",
      "dist/rpc.test.js",
      "dist/test/helpers.js",
      "src/index.ts",
      ".env",
    ]) {
      expect(() => pack.checkContents(files("package.json", bad)), bad).toThrow(pack.PackError);
    }
  });

  it("finds build output whose source is gone", () => {
    const dir = join(scratch, "pkg");
    mkdirSync(join(dir, "src", "rpc"), { recursive: true });
    mkdirSync(join(dir, "dist", "rpc"), { recursive: true });
    writeFileSync(join(dir, "src", "rpc", "live.ts"), "");
    for (const f of ["live.js", "live.d.ts", "live.js.map", "gone.js", "gone.d.ts", "gone.d.ts.map"]) {
      writeFileSync(join(dir, "dist", "rpc", f), "");
    }
    const stale = [...pack.staleOutput(dir)].map((f) => f.slice(join(dir, "dist").length + 1)).sort();
    expect(stale).toEqual(["rpc/gone.d.ts", "rpc/gone.d.ts.map", "rpc/gone.js"]);
  });
});
