/**
 * A bench-only look inside a child started with `--inspect=127.0.0.1:<port>`: a full GC on
 * demand, so memory read right after it holds live objects only. Nothing in the product:
 * the sentinel reports its own memory (GET /metrics, fame_sentinel_memory_bytes).
 */
import WebSocket from "ws";

export async function connectInspector(port) {
  const res = await fetch(`http://127.0.0.1:${port}/json/list`);
  const targets = await res.json();
  const url = targets[0]?.webSocketDebuggerUrl;
  if (typeof url !== "string") throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let nextId = 1;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    const w = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (w === undefined) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(`${w.method}: ${msg.error.message}`));
    else w.resolve(msg.result);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    /** two full collections: the second picks up what the first's finalizers released */
    async gc() {
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage");
    },
    close: () => ws.close(),
  };
}
