/** Shared bits of the affinity integration tests: quiet clients, sentinel YAML, status reads. */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { requestJson } from "@fame/http-service/client";
import { createLogger } from "@fame/logger";
import { connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import type { PoolDistribution } from "@fame/sentinel";
import type { FabricStack, RunningProcess } from "@fame/testkit";

export interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  sleep(p: { ms: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

export const quiet = () =>
  createLogger({
    name: "it-client",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });

/** A sentinel YAML file with the given `pools` entries; removed by the returned cleanup. */
export function sentinelYaml(poolsYaml: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "fame-affinity-"));
  const file = join(dir, "sentinel.yml");
  writeFileSync(file, `node:\n  type: Sentinel\n  pools:\n${poolsYaml}`);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function client(
  stack: FabricStack,
  encryption: "plaintext" | "channel",
  keep: Fabric[],
): Promise<Fabric> {
  const f = await connectFabric({
    config: nodeConfigFromEnv({ ...stack.nodeEnv, FAME_DEFAULT_ENCRYPTION_LEVEL: encryption }),
    logger: quiet(),
    installDefault: false,
  });
  keep.push(f);
  return f;
}

export async function distributionOf(stack: FabricStack, address: string): Promise<PoolDistribution> {
  const status = (await requestJson(`${stack.urls.sentinel}/fame/v1/status`, {
    ca: stack.trustBundle,
    headers: stack.adminHeaders,
  })) as {
    distribution: PoolDistribution[];
  };
  const d = status.distribution.find((p) => p.address === address);
  if (!d) throw new Error(`status has no distribution for ${address}`);
  return d;
}

/** The systemId a replica attached with, from its "math agent ready" log line. */
export function systemIdOf(p: RunningProcess): string {
  const m = /"path":"\/[A-Za-z0-9_]+\/([A-Za-z0-9_]+)"/.exec(p.output());
  if (!m?.[1]) throw new Error(`${p.name} has not logged its path`);
  return m[1];
}

export function pathOf(p: RunningProcess): string {
  const m = /"path":"(\/[A-Za-z0-9_/]+)"/.exec(p.output());
  if (!m?.[1]) throw new Error(`${p.name} has not logged its path`);
  return m[1];
}

export const sessionId = (label: string) => `${label}-${randomUUID()}`;
