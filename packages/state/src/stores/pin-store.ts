import { type Bucket, KEY_SEP } from "../bucket.js";
import type { PinRecord, PinStore, Unsubscribe } from "../types.js";
import { isObj, num, str } from "./values.js";

export function parsePin(raw: unknown): PinRecord | undefined {
  if (!isObj(raw)) return undefined;
  const { replicaSystemId, replicaSid, exp } = raw;
  if (!str(replicaSystemId, 256) || !str(replicaSid, 256) || !num(exp)) return undefined;
  return { replicaSystemId, replicaSid, exp };
}

/** (client sid, channel id) → the replica holding the channel's keys. */
export class BucketPinStore implements PinStore {
  constructor(private readonly bucket: Bucket<PinRecord>) {}

  get size(): number {
    return this.bucket.size;
  }

  get(clientSid: string, cid: string): PinRecord | undefined {
    const e = this.bucket.peek(clientSid + KEY_SEP + cid);
    return e !== undefined && e.value.exp > Date.now() ? e.value : undefined;
  }

  async put(clientSid: string, cid: string, pin: PinRecord): Promise<void> {
    await this.bucket.put(clientSid + KEY_SEP + cid, {
      replicaSystemId: pin.replicaSystemId,
      replicaSid: pin.replicaSid,
      exp: pin.exp,
    });
  }

  async delete(clientSid: string, cid: string): Promise<void> {
    await this.bucket.delete(clientSid + KEY_SEP + cid);
  }

  onChange(cb: (clientSid: string, cid: string, pin: PinRecord | undefined) => void): Unsubscribe {
    return this.bucket.onChange((key, e) => {
      const at = key.indexOf(KEY_SEP);
      cb(key.slice(0, at), key.slice(at + 1), e?.value);
    });
  }
}
