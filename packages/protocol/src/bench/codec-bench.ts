/**
 * Codec micro-benchmark: decode+validate throughput against a bare JSON.parse baseline,
 * so the cost of the hand-written validation is visible. Run after building:
 *   node packages/protocol/dist/bench/codec-bench.js
 */
import { base64urlEncode } from "../base64.js";
import { decodeEnvelope, encodeEnvelope } from "../codec.js";
import type { Envelope } from "../envelope.js";

const SIG = base64urlEncode(new Uint8Array(64).fill(1));

function dataEnvelope(payload: Envelope["frame"]): Envelope {
  return {
    v: 1,
    id: "Xk3v9QbH2mT8sW1pL0aZcQ",
    sid: "7mhtn7mhf3gqUTOv1HLjeG",
    to: "math@fame.fabric",
    corrId: "r-8812",
    ts: 1_700_000_000_000,
    frame: payload,
    sec: { sig: { alg: "EdDSA", kid: "node9-ed1", val: SIG } },
  };
}

const typical = dataEnvelope({
  type: "Data",
  codec: "json",
  payload: { method: "add", params: { a: 1, b: 2 } },
});

// Many small members: the validator's worst realistic case per byte.
const rows = Array.from({ length: 1100 }, (_, i) => ({ i, name: `item-${i}`, ok: i % 2 === 0, w: i / 7 }));
const bigJson = dataEnvelope({ type: "Data", codec: "json", payload: { rows } });

const sealed: Envelope = {
  ...dataEnvelope({
    type: "Data",
    codec: "enc",
    ct: base64urlEncode(new Uint8Array(48 * 1024 - 320).fill(5)),
  }),
  sec: {
    sig: { alg: "EdDSA", kid: "node9-ed1", val: SIG },
    enc: { alg: "chacha20-poly1305-channel", cid: "ch-1", seq: 42, kid: "node9-x1", ac: SIG.slice(0, 22) },
  },
};

function measure(run: () => unknown, minMs = 700): number {
  for (let i = 0; i < 200; i++) run(); // warm-up so we time optimized code
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 50; i++) run();
    ops += 50;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10);

console.log(`node ${process.version}`);
console.log("case                          bytes   decode+validate/s   JSON.parse/s   encode/s");
for (const [name, env] of [
  ["typical Data (json)", typical],
  ["64 KiB Data (json, 1100 rows)", bigJson],
  ["64 KiB Data (enc, ct)", sealed],
] as const) {
  const text = encodeEnvelope(env);
  const decode = measure(() => decodeEnvelope(text));
  const parse = measure(() => JSON.parse(text));
  const encode = measure(() => encodeEnvelope(env));
  console.log(
    `${name.padEnd(29)} ${String(text.length).padStart(6)}   ${fmt(decode)}        ${fmt(parse)}   ${fmt(encode)}`,
  );
}
