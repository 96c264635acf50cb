#!/usr/bin/env node
// Generates the development PKI and dev secrets (idempotent).
//   node scripts/setup-pki.mjs [--dir certs] [--force] [--trust-domain fame.fabric]
//                              [--server-name NAME]... [--tls-key ed25519|ecdsa-p256]
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const identityDevEntry = join(root, "packages", "identity", "dist", "dev.js");

function usage(message) {
  if (message) process.stderr.write(`setup-pki: ${message}\n`);
  process.stderr.write(
    "usage: node scripts/setup-pki.mjs [--dir certs] [--force] [--trust-domain D] [--server-name N]... [--tls-key ed25519|ecdsa-p256]\n",
  );
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { dir: "certs", force: false, serverNames: [], trustDomain: undefined, tlsKey: "Ed25519" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === "--dir") opts.dir = value();
    else if (arg === "--force") opts.force = true;
    else if (arg === "--trust-domain") opts.trustDomain = value();
    else if (arg === "--server-name") opts.serverNames.push(value());
    else if (arg === "--tls-key") {
      const v = value().toLowerCase();
      if (v === "ed25519") opts.tlsKey = "Ed25519";
      else if (v === "ecdsa-p256" || v === "ecdsa") opts.tlsKey = "ECDSA-P256";
      else usage(`unknown --tls-key ${v}`);
    } else if (arg === "--help" || arg === "-h") usage();
    else usage(`unknown argument ${arg}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(identityDevEntry)) {
  process.stderr.write(
    `setup-pki: ${relative(process.cwd(), identityDevEntry)} not found: build first (make build, or tsc -b packages/identity)\n`,
  );
  process.exit(1);
}

try {
  const { generateDevPki } = await import(pathToFileURL(identityDevEntry).href);
  const result = await generateDevPki({
    dir: opts.dir,
    force: opts.force,
    serverNames: opts.serverNames,
    tlsKeyAlgorithm: opts.tlsKey,
    ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
  });
  // Paths under the working directory are shown relative (as typed), others absolute.
  const show = (p) => {
    const r = relative(process.cwd(), p);
    return r.startsWith("..") || r === "" ? p : r;
  };
  const shown = opts.dir.replace(/\/+$/, "");
  if (!result.created) {
    process.stdout.write(`dev PKI already present in ${shown}/\n`);
  } else {
    process.stdout.write(`dev PKI written to ${shown}/:\n`);
    for (const role of result.written) process.stdout.write(`  ${show(result.files[role])}\n`);
  }
  process.exit(0);
} catch (err) {
  process.stderr.write(`setup-pki: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
