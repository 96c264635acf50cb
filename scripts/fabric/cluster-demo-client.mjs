// The caller of make cluster-demo (run by scripts/fabric/cluster-demo.mjs, against the built SDK):
// calls math@fame.fabric in a loop over one channel (add, then whoami, idempotent both) and
// prints one JSON line per call, for the supervisor to time. Stops when its stdin closes,
// on SIGTERM, or after FAME_DEMO_MAX_SEC.
import { Agent, connectFabric } from "../../packages/sdk/dist/index.js";

const MAX_SEC = Math.min(Number(process.env.FAME_DEMO_MAX_SEC) || 300, 3600);
const PAUSE_MS = 50;
/**
 * Per attempt (the SDK's default is 30 s): a request that dies with a sentinel or a NATS server
 * (core NATS delivers at most once) is resent after this; both operations are idempotent.
 */
const ATTEMPT_TIMEOUT_MS = 1000;

const print = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

let stopping = false;
process.stdin.on("end", () => {
  stopping = true;
});
process.stdin.resume();
process.on("SIGTERM", () => {
  stopping = true;
});

// named by FAME_NODE_NAME (set by the supervisor), so the sentinels' status shows where it is attached
const fabric = await connectFabric();
const math = Agent.remoteByAddress("math@fame.fabric", {
  endpoint: fabric.endpoint,
  idempotent: ["add", "whoami"],
  timeoutMs: ATTEMPT_TIMEOUT_MS,
});
print({ ready: true, t: Date.now() });
const deadline = Date.now() + MAX_SEC * 1000;
let i = 0;
const call = async (op, fn) => {
  i++;
  const started = Date.now();
  try {
    const value = await fn();
    print({ i, op, ok: true, t: Date.now(), ms: Date.now() - started, ...value });
  } catch (err) {
    print({
      i,
      op,
      ok: false,
      t: Date.now(),
      ms: Date.now() - started,
      code: err?.code,
      error: err?.message,
    });
  }
};
while (!stopping && Date.now() < deadline) {
  await call("add", async () => {
    const sum = await math.add({ x: i, y: 1 });
    if (sum !== i + 1) throw new Error(`add(${i}, 1) returned ${sum}`);
    return {};
  });
  await call("whoami", async () => ({ replica: (await math.whoami()).replica }));
  await new Promise((r) => setTimeout(r, PAUSE_MS));
}
print({ done: true, t: Date.now(), metrics: fabric.endpoint.client.metrics() });
await fabric.close();
process.exit(0);
