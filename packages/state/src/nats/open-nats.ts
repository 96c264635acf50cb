import type { StorageSettings } from "@fame/config";
import type { Logger } from "@fame/logger";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { assembleFabricState } from "../assemble.js";
import type { Bucket, BucketSpec } from "../bucket.js";
import { bucketSpecs } from "../bucket-specs.js";
import { isStateUnavailable, StateUnavailableError } from "../errors.js";
import { DEFAULT_TIMEOUT_MS, type FabricStateOptions } from "../options.js";
import type { FabricState, StateBus } from "../types.js";
import { NatsBucket } from "./nats-bucket.js";
import { NatsLink } from "./nats-link.js";

type NatsSettings = Extract<StorageSettings, { profile: "nats" }>;

/** pause between attempts to bring the watches back after NATS returns */
const RECOVER_PAUSE_MS = 500;
/** how long a precautionary restart of the watches (a NATS server left) keeps trying */
const QUIET_REWATCH_MS = 60_000;
const OPEN_TIMEOUT_MS = 5_000;
/** how often each watch is compared with its stream (a silent watch is replaced at the second) */
const WATCH_CHECK_MS = 5_000;

async function connectNats(settings: NatsSettings, opts: FabricStateOptions, timeoutMs: number) {
  const auth =
    settings.auth === undefined
      ? {}
      : settings.auth.kind === "token"
        ? { token: settings.auth.token }
        : { user: settings.auth.user, pass: settings.auth.pass };
  try {
    return await connect({
      servers: settings.servers,
      name: opts.name ?? "fame-state",
      ...auth,
      timeout: Math.max(timeoutMs, 2_000),
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      // a dead server is noticed within ~3 s even when the TCP connection does not break
      pingInterval: 1_000,
      maxPingOut: 3,
    });
  } catch (err) {
    throw new StateUnavailableError(
      `cannot connect to NATS at ${settings.servers.join(",")}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function busOf(nc: NatsConnection): StateBus {
  return {
    publish: (subject, data) => nc.publish(subject, data),
    subscribe(subject, cb) {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err === null) cb(msg.data);
        },
      });
      return () => sub.unsubscribe();
    },
  };
}

/**
 * The shared state in NATS JetStream KV: one bucket per concern, named `fame_<cluster>_<name>`,
 * created when absent with the configured replicas. Resolves once every cache is current.
 */
export async function openNatsFabricState(
  settings: NatsSettings,
  log: Logger,
  opts: FabricStateOptions = {},
): Promise<FabricState> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const nc = await connectNats(settings, opts, timeoutMs);
  const link = new NatsLink((err) => log.error({ err }, "shared state status listener failed"));
  const specs = bucketSpecs(opts);
  // creating an R3 bucket is a raft round: give opening more time than a value write
  const openTimeoutMs = Math.max(timeoutMs, OPEN_TIMEOUT_MS);
  const kvm = new Kvm(jetstream(nc, { timeout: openTimeoutMs }));
  const buckets = new Map<string, NatsBucket<unknown>>();
  try {
    await Promise.all(
      Object.values(specs).map(async (spec: BucketSpec<unknown>) => {
        const kv = await kvm.create(`fame_${settings.clusterId}_${spec.name}`, {
          replicas: settings.replicas,
          history: 1,
          ttl: spec.maxAgeMs,
          maxValueSize: spec.maxValueBytes,
          timeout: openTimeoutMs,
        });
        const bucket = new NatsBucket(kv, spec, link, timeoutMs, log);
        await bucket.watch();
        buckets.set(spec.name, bucket);
      }),
    );
  } catch (err) {
    link.closed = true;
    for (const b of buckets.values()) b.close();
    await nc.close().catch(() => {});
    if (err instanceof StateUnavailableError) throw err;
    throw new StateUnavailableError(`cannot open the shared state buckets: ${(err as Error).message}`, {
      cause: err,
    });
  }

  /**
   * Set when the client reconnected while a recovery runs: the watches it already restarted
   * may predate the reconnect. A failed call during recovery does not set it; the running
   * loop retries that bucket anyway.
   */
  let recoverAgain = false;
  const recover = async (afterReconnect: boolean) => {
    if (link.recovering) {
      if (afterReconnect) recoverAgain = true;
      return;
    }
    link.recovering = true;
    try {
      do {
        recoverAgain = false;
        // a bucket whose raft leader died answers again only after the survivors elect
        // another (measured ~6 s on nats-server 2.9): retry each bucket's watch on its own
        await rewatch(() => link.connected, false);
      } while (recoverAgain && !link.closed);
      if (!link.closed) {
        link.recovering = false;
        link.ok();
        log.info("shared state available again (NATS)");
      }
    } finally {
      link.recovering = false;
    }
  };
  /**
   * Restarts every bucket's watch, each retried on its own while `mayTry()` holds; a quiet
   * (precautionary) restart gives up after QUIET_REWATCH_MS, leaving the old watches, which
   * nats.js re-creates by itself if their consumers are really gone.
   */
  const rewatch = async (mayTry: () => boolean, quiet: boolean) => {
    const pending = new Set(buckets.values());
    const giveUpAt = quiet ? Date.now() + QUIET_REWATCH_MS : Number.POSITIVE_INFINITY;
    while (!link.closed && pending.size > 0) {
      if (Date.now() > giveUpAt) {
        log.warn(
          { buckets: [...pending].map((b) => b.name) },
          "shared state: watches not restarted after a NATS server left; keeping the current ones",
        );
        return;
      }
      if (mayTry()) {
        const attempt = [...pending];
        const results = await Promise.allSettled(attempt.map((b) => b.watch(quiet)));
        results.forEach((r, i) => {
          if (r.status === "fulfilled") pending.delete(attempt[i]!);
          else log.debug({ err: r.reason, bucket: attempt[i]!.name }, "shared state: bucket not ready yet");
        });
        if (pending.size === 0) break;
      } else if (quiet) return;
      await new Promise((r) => setTimeout(r, RECOVER_PAUSE_MS));
    }
  };
  /**
   * A NATS server left while this connection stayed up: a watch whose consumer lived there has
   * gone silent, and nats.js notices only after two missed 30 s heartbeats. Every watch is
   * restarted now, quietly: the state stays available (reads and writes still answer, and
   * most caches are current), and each old watch feeds its cache until its replacement runs.
   * A reconnect meanwhile hands the job to recover(), which restarts them all anyway.
   */
  let refreshing = false;
  let refreshAgain = false;
  const refreshWatches = async () => {
    if (link.recovering) {
      recoverAgain = true;
      return;
    }
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      do {
        refreshAgain = false;
        await rewatch(() => link.connected && !link.recovering, true);
      } while (refreshAgain && !link.closed && !link.recovering);
    } finally {
      refreshing = false;
    }
  };
  link.recover = () => void recover(false);

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "staleConnection") {
        link.connected = false;
        if (link.status.state === "ok")
          log.warn({ event: s.type }, "shared state unavailable: NATS connection lost");
        link.unavailable(`NATS ${s.type}`);
      } else if (s.type === "reconnect") {
        link.connected = true;
        log.info({ server: s.server }, "NATS reconnected; resyncing shared state");
        // the watches' consumers may be gone with the server: start them again
        link.unavailable("resyncing after NATS reconnect");
        void recover(true);
      } else if (s.type === "update" && (s.deleted?.length ?? 0) > 0) {
        log.info(
          { deleted: s.deleted },
          "a NATS server left the cluster; restarting the shared state watches",
        );
        void refreshWatches();
      }
    }
  })().catch((err) => log.error({ err }, "NATS status loop failed"));

  link.onStatus((s) => {
    if (s.state === "unavailable" && link.connected && !link.closed) {
      log.warn({ reason: s.reason }, "shared state unavailable");
    }
  });

  // A watch can fall silent without any event (its consumer's server died, and no gossip said
  // so): each is compared with its stream now and then, one at a time, and replaced if stalled.
  let checking = false;
  const watchCheck = setInterval(() => {
    if (checking || link.closed || !link.connected || link.recovering) return;
    checking = true;
    void (async () => {
      for (const b of buckets.values()) {
        if (link.closed || link.recovering) break;
        await b
          .checkWatch()
          .catch((err: unknown) => log.debug({ err, bucket: b.name }, "watch check failed"));
      }
    })().finally(() => {
      checking = false;
    });
  }, WATCH_CHECK_MS);
  watchCheck.unref();

  const open = <V>(spec: BucketSpec<V>): Bucket<V> => buckets.get(spec.name) as unknown as Bucket<V>;
  return assembleFabricState(
    settings.clusterId,
    specs,
    open,
    {
      profile: "nats",
      bus: busOf(nc),
      get status() {
        return link.status;
      },
      onStatus: (cb) => link.onStatus(cb),
      async close() {
        link.closed = true;
        clearInterval(watchCheck);
        for (const b of buckets.values()) b.close();
        await nc.close().catch((err: unknown) => log.debug({ err }, "NATS close"));
      },
    },
    // a partition fails every refresh: its transition is logged once, not each failure
    (err) =>
      isStateUnavailable(err)
        ? log.debug({ err }, "shared state refresh failed")
        : log.warn({ err }, "shared state refresh failed"),
  );
}
