/** Headless Chromium from the system (Debian's `chromium` package) for the browser tests: no download. */
import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
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

/**
 * Headless Chromium. `trustCertificatePem`: the fabric's TLS certificate, accepted by its key
 * alone (`--ignore-certificate-errors-spki-list`): the dev CA is in no browser's store, and this
 * trusts that one key rather than ignoring every certificate error.
 */
export function launchChromium(opts: { trustCertificatePem?: string } = {}): Promise<Browser> {
  // --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox refuses to start
  const args = ["--no-sandbox"];
  if (opts.trustCertificatePem !== undefined) {
    const spki = new X509Certificate(opts.trustCertificatePem).publicKey.export({
      type: "spki",
      format: "der",
    });
    args.push(`--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`);
  }
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}
