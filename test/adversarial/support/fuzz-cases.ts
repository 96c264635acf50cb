import { base64urlEncode, newId } from "@fame/protocol";
import fc from "fast-check";

/**
 * Frames for fuzzing a sentinel connection: valid envelopes of every kind a
 * node may send, each mutated at the object level (a member deleted, replaced,
 * added, retyped) or the text level (truncated, a character inserted, replaced
 * or doubled), plus plain random text and random JSON.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const b64 = (n: number) => base64urlEncode(new Uint8Array(n).fill(7));

/** valid envelopes (as plain objects) a node with this sid and path could send */
export function templates(sid: string, path: string, opts: { attach?: boolean } = {}): (() => Json)[] {
  const replyTo = `rpc@${path}`;
  const base = () => ({ v: 1, id: newId(), sid, ts: Date.now() });
  const list: (() => Json)[] = [
    () => ({ ...base(), frame: { type: "Heartbeat" } }),
    () => ({
      ...base(),
      to: "math@fame.fabric",
      replyTo,
      corrId: newId(),
      frame: {
        type: "Data",
        codec: "json",
        payload: { jsonrpc: "2.0", id: 1, method: "add", params: { x: 1, y: 2 } },
      },
    }),
    () => ({
      ...base(),
      to: "ghost@fame.fabric",
      corrId: newId(),
      frame: { type: "Data", codec: "json", payload: [1, "two", { three: 3 }] },
      meta: { k: "v", n: 1 },
    }),
    () => ({
      ...base(),
      to: "math@fame.fabric",
      replyTo,
      frame: { type: "Data", codec: "enc", ct: b64(24) },
      sec: { enc: { alg: "chacha20-poly1305-channel", cid: newId(), seq: 1, kid: "k1", ac: b64(8) } },
    }),
    () => ({ ...base(), replyTo, frame: { type: "KeyRequest", kid: "ed25519:abc" } }),
    () => ({
      ...base(),
      to: "math@fame.fabric",
      replyTo,
      corrId: newId(),
      frame: { type: "SecureOpen", cid: newId(), ephPub: b64(32), alg: "CHACHA20P1305" },
    }),
    () => ({ ...base(), to: "math@fame.fabric", frame: { type: "SecureClose", cid: newId() } }),
    () => ({ ...base(), frame: { type: "AddressBind", address: "thief@fame.fabric" } }),
    () => ({ ...base(), frame: { type: "AddressUnbind", address: "thief@fame.fabric" } }),
    () => ({
      ...base(),
      to: "rpc@/sentinel0/nobody",
      frame: { type: "DeliveryAck", ok: false, refId: newId(), code: "timeout" },
    }),
    () => ({
      ...base(),
      to: "math@fame.fabric",
      frame: { type: "KeyAnnounce", keys: [{ kty: "OKP", crv: "Ed25519", x: b64(32), kid: "k" }] },
    }),
  ];
  const attach = () => ({
    ...base(),
    sid: "pending",
    frame: {
      type: "NodeAttach",
      systemId: `fz${Math.floor(Math.random() * 1e9)}`,
      instanceId: newId(),
      logicals: [],
      keys: [],
    },
  });
  return opts.attach ? [attach, attach, attach, ...list] : [...list, attach];
}

/** every (path, holder) inside a JSON value, the root excluded */
function slots(value: Json, out: { holder: Json[] | { [k: string]: Json }; key: string | number }[] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ holder: value, key: i });
      slots(v, out);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push({ holder: value, key: k });
      slots(v, out);
    }
  }
  return out;
}

const OBJECT_MUTATIONS = ["delete", "replace", "add", "retype", "stringify"] as const;

function mutateObject(root: Json, pick: number, kind: (typeof OBJECT_MUTATIONS)[number], value: Json): Json {
  const all = slots(root);
  if (all.length === 0) return value;
  const { holder, key } = all[pick % all.length]!;
  const h = holder as Record<string | number, Json>;
  const cur = h[key] as Json;
  switch (kind) {
    case "delete":
      if (Array.isArray(holder)) holder.splice(key as number, 1);
      else delete h[key];
      break;
    case "replace":
      h[key] = value;
      break;
    case "add":
      if (Array.isArray(holder)) holder.push(value);
      else h[`x${pick % 7}`] = value;
      break;
    case "retype":
      h[key] =
        typeof cur === "string"
          ? cur.length
          : typeof cur === "number"
            ? String(cur)
            : Array.isArray(cur)
              ? {}
              : cur === null
                ? false
                : typeof cur === "object"
                  ? [cur]
                  : null;
      break;
    case "stringify":
      h[key] = JSON.stringify(cur) ?? "";
      break;
  }
  return root;
}

const TEXT_MUTATIONS = ["truncate", "insert", "replace", "double", "bom", "wrap"] as const;

function mutateText(text: string, pos: number, kind: (typeof TEXT_MUTATIONS)[number], ch: string): string {
  const at = text.length === 0 ? 0 : pos % text.length;
  switch (kind) {
    case "truncate":
      return text.slice(0, at);
    case "insert":
      return text.slice(0, at) + ch + text.slice(at);
    case "replace":
      return text.slice(0, at) + ch + text.slice(at + 1);
    case "double": {
      const end = Math.min(text.length, at + 1 + (pos % 40));
      return text.slice(0, end) + text.slice(at, end) + text.slice(end);
    }
    case "bom":
      return `\uFEFF${text}`;
    case "wrap":
      return `[${text}]`;
  }
}

/** one fuzz frame; `make` are the templates to mutate */
export function frameArbitrary(make: (() => Json)[]): fc.Arbitrary<string> {
  const template = fc.nat({ max: make.length - 1 }).map((i) => make[i]!);
  const objectMutated = fc
    .tuple(
      template,
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.constantFrom(...OBJECT_MUTATIONS),
          fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
        ),
        { minLength: 1, maxLength: 3 },
      ),
    )
    .map(([t, muts]) => {
      let v = t();
      for (const [pick, kind, value] of muts) v = mutateObject(v, pick, kind, value);
      return JSON.stringify(v);
    });
  const textMutated = fc
    .tuple(
      template,
      fc.nat(),
      fc.constantFrom(...TEXT_MUTATIONS),
      fc.oneof(
        fc.constantFrom('"', "{", "}", "[", "]", ",", ":", "\\", "\u0000", "\uD800", "9"),
        fc.string({ unit: "binary", minLength: 1, maxLength: 3 }),
      ),
    )
    .map(([t, pos, kind, ch]) => mutateText(JSON.stringify(t()), pos, kind, ch));
  return fc.oneof(
    { weight: 5, arbitrary: template.map((t) => JSON.stringify(t())) },
    { weight: 10, arbitrary: objectMutated },
    { weight: 6, arbitrary: textMutated },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 300 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  );
}
