import type { Logger } from "@fame/logger";
import { assembleFabricState } from "../assemble.js";
import type { Bucket, BucketSpec } from "../bucket.js";
import { bucketSpecs } from "../bucket-specs.js";
import type { FabricStateOptions } from "../options.js";
import type { FabricState, StateStatus } from "../types.js";
import { MemoryBucket, MemoryHub } from "./memory-bucket.js";

/**
 * The shared state held in this process: what one sentinel needs. Always available, so writes
 * never reject with StateUnavailableError (except a full bucket).
 */
export function openMemoryFabricState(
  clusterId: string,
  log: Logger,
  opts: FabricStateOptions = {},
): FabricState {
  const hub = opts.hub ?? new MemoryHub();
  const buckets: MemoryBucket<unknown>[] = [];
  const onError = (err: unknown) => log.error({ err }, "shared state listener failed");
  const open = <V>(spec: BucketSpec<V>): Bucket<V> => {
    const b = new MemoryBucket<V>(hub, spec, onError);
    buckets.push(b as MemoryBucket<unknown>);
    return b;
  };
  const status: StateStatus = Object.freeze({ state: "ok", since: Date.now() });
  return assembleFabricState(
    clusterId,
    bucketSpecs(opts),
    open,
    {
      profile: "memory",
      bus: undefined,
      status,
      onStatus: () => () => {},
      async close() {
        for (const b of buckets) b.close();
      },
    },
    onError,
  );
}
