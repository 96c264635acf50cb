/**
 * Large-payload rows: `echo({ data })` with 4 KiB, 64 KiB and 512 KiB strings, sealed
 * (strict-overlay, channel) and plaintext (open profile), 8 calls in flight, next to the
 * same-size bare relay (client → relay → echo server, text frames) and to the channel AEAD's
 * own rate in the crypto back end every fabric process uses. Rates are MB/s of payload each
 * way (1 MB = 10^6 B): calls/s × payload bytes, the same amount travelling back.
 * The same windows as every other row (2 s warm-up, 3 s measured by default): with 1 s of
 * warm-up the sealed rows were still being optimized inside the window. ~60 s in all.
 */
import { defaultBackend } from "../../packages/crypto/dist/index.js";
import { runClient, startBenchReplica, withStack } from "./fabric.mjs";
import { startRelayPair } from "./limits.mjs";

export const PAYLOAD_SIZES = [4 * 1024, 64 * 1024, 512 * 1024];
/** calls in flight: enough to keep every hop busy, few enough that 512 KiB calls stay in memory */
export const PAYLOAD_INFLIGHT = 8;

const echoTasks = () =>
  PAYLOAD_SIZES.map((bytes) => ({
    name: `echo_${bytes}`,
    kind: "echo",
    concurrency: PAYLOAD_INFLIGHT,
    bytes,
  }));

export async function runPayloads(ctx) {
  const { pki, progress } = ctx;
  const windows = { warmupMs: ctx.warmupMs, measureMs: ctx.measureMs };
  const out = { sizes: PAYLOAD_SIZES, inflight: PAYLOAD_INFLIGHT };

  progress.step("payloads: AEAD of the crypto back end at 4 KiB, 64 KiB, 512 KiB");
  out.aead = measureAead();

  const relay = await startRelayPair(pki);
  try {
    out.relay = {};
    for (const bytes of PAYLOAD_SIZES) {
      progress.step(`payloads: relay TLS, ${bytes / 1024} KiB text frames, ${PAYLOAD_INFLIGHT} in flight`);
      const r = await relay.run([{ name: "run", concurrency: PAYLOAD_INFLIGHT }], bytes, windows);
      out.relay[bytes] = r.results.run;
    }
  } finally {
    await relay.stop();
  }

  progress.step("payloads: open/plaintext echo (starting stack)");
  await withStack(
    ctx,
    { securityProfile: "open", encryption: "plaintext", logLevel: "warn" },
    async (stack) => {
      const r1 = await startBenchReplica(stack, "replica1");
      try {
        out.plaintext = (await runClient(ctx, stack, r1, "plaintext", echoTasks())).results;
      } finally {
        await r1.stop("SIGTERM", 5000);
      }
    },
  );
  progress.step("payloads: strict-overlay/channel echo (starting stack)");
  await withStack(ctx, { securityProfile: "strict-overlay", logLevel: "warn" }, async (stack) => {
    const r1 = await startBenchReplica(stack, "replica1");
    try {
      out.sealed = (await runClient(ctx, stack, r1, "channel", echoTasks())).results;
    } finally {
      await r1.stop("SIGTERM", 5000);
    }
  });
  return out;
}

/**
 * ChaCha20-Poly1305 seal and open, one at a time, of each size: what one core of this machine
 * encrypts and decrypts, through the same back end (and key/nonce/AAD shapes) as a channel.
 */
function measureAead() {
  const backend = defaultBackend();
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(120).fill(65);
  const rows = {};
  for (const bytes of PAYLOAD_SIZES) {
    const plaintext = new Uint8Array(bytes).fill(120);
    const sealed = backend.aeadSeal(key, nonce, plaintext, aad);
    // best of 3 rounds of ~150 ms (bounded by operations too): on a shared machine the slower
    // rounds measure the neighbours
    const rate = (fn) => {
      for (let i = 0; i < 200 && i * bytes < 64 * 1024 * 1024; i++) fn(); // warm (the first size JITs)
      let best = 0;
      for (let round = 0; round < 3; round++) {
        let n = 0;
        const t0 = performance.now();
        let elapsed = 0;
        while (elapsed < 150 && n < 100_000) {
          for (let i = 0; i < 10; i++) fn();
          n += 10;
          elapsed = performance.now() - t0;
        }
        best = Math.max(best, (n * bytes) / 1e6 / (elapsed / 1000));
      }
      return best;
    };
    rows[bytes] = {
      sealMBps: rate(() => backend.aeadSeal(key, nonce, plaintext, aad)),
      openMBps: rate(() => backend.aeadOpen(key, nonce, sealed, aad)),
    };
  }
  return { backend: backend.name, rows };
}
