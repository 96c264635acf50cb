import type { Bucket, BucketSpec } from "./bucket.js";
import type { BucketSpecs } from "./bucket-specs.js";
import { BucketElectionStore } from "./stores/election-store.js";
import { BucketNodeDirectory } from "./stores/node-directory.js";
import { BucketPinStore } from "./stores/pin-store.js";
import { BucketSentinelRegistry } from "./stores/sentinel-registry.js";
import { BucketSessionStore } from "./stores/session-store.js";
import { BucketTicketLedger } from "./stores/ticket-ledger.js";
import type { FabricState, StateBus, StateProfile, StateStatus, Unsubscribe } from "./types.js";

export interface Backend {
  readonly profile: StateProfile;
  readonly bus: StateBus | undefined;
  readonly status: StateStatus;
  onStatus(cb: (status: StateStatus) => void): Unsubscribe;
  /** closes buckets and the connection */
  close(): Promise<void>;
}

/** The stores over a backend's buckets, as one FabricState. */
export function assembleFabricState(
  clusterId: string,
  specs: BucketSpecs,
  open: <V>(spec: BucketSpec<V>) => Bucket<V>,
  backend: Backend,
  onBackgroundError: (err: unknown) => void,
): FabricState {
  const registry = new BucketSentinelRegistry(open(specs.sentinels), onBackgroundError);
  const directory = new BucketNodeDirectory(open(specs.nodes), onBackgroundError);
  let closing: Promise<void> | undefined;
  return {
    profile: backend.profile,
    clusterId,
    registry,
    directory,
    pins: new BucketPinStore(open(specs.pins)),
    tickets: new BucketTicketLedger(open(specs.tickets)),
    elections: new BucketElectionStore(open(specs.elections)),
    sessions: new BucketSessionStore(open(specs.sessions)),
    bus: backend.bus,
    get status() {
      return backend.status;
    },
    onStatus: (cb) => backend.onStatus(cb),
    close() {
      closing ??= (async () => {
        registry.stop();
        directory.stop();
        await backend.close();
      })();
      return closing;
    },
  };
}
