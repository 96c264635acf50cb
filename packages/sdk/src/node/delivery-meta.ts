import { CHANNEL_META_KEY, MORE_META } from "@fame/protocol";
import type { SecureChannel } from "../channel/secure-channel.js";

export interface DeliveryMeta {
  readonly plain: Readonly<Record<string, string>>;
  readonly more: Readonly<Record<string, string>>;
}

/**
 * The meta a sealed message is delivered with (its channel id, and `more` for a stream
 * item): two frozen objects per channel instead of one object per message.
 */
export class DeliveryMetas {
  /** weak, so a closed channel takes its entry with it */
  private readonly byChannel = new WeakMap<SecureChannel, DeliveryMeta>();

  of(ch: SecureChannel): DeliveryMeta {
    let metas = this.byChannel.get(ch);
    if (metas === undefined) {
      metas = {
        plain: Object.freeze({ [CHANNEL_META_KEY]: ch.cid }),
        more: Object.freeze({ [MORE_META]: "true", [CHANNEL_META_KEY]: ch.cid }),
      };
      this.byChannel.set(ch, metas);
    }
    return metas;
  }
}
