/** Headless Chromium from the system (Debian's `chromium` package) for the browser tests: no download. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

const INSTALL_HINT =
  "install Debian's package (as root: apt-get install -y chromium) or point FAME_CHROMIUM at a " +
  "Chromium/Chrome executable; .ci/run installs it in CI";

/** FAME_CHROMIUM, CHROMIUM_PATH, else `chromium` (or `chromium-browser`) on PATH; throws how to install it */
export function chromiumPath(): string {
  const explicit = process.env["FAME_CHROMIUM"] || process.env["CHROMIUM_PATH"];
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`Chromium not found at ${explicit}: ${INSTALL_HINT}`);
    return explicit;
  }
  for (const name of ["chromium", "chromium-browser"]) {
    const found = spawnSync("which", [name], { encoding: "utf8" });
    const path = found.stdout?.trim();
    if (found.status === 0 && path) return path;
  }
  throw new Error(`Chromium is not installed (no chromium on PATH): ${INSTALL_HINT}`);
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox refuses to start
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox"] });
}
