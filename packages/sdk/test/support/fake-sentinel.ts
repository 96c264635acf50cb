/**
 * A sentinel in the test process: nodes attach to it over in-memory links (no sockets) and it
 * relays their envelopes by address, unchanged, the way the real one forwards frames. Tests
 * watch the traffic, drop or answer envelopes by hand, and cut links.
 */
import { Writable } from "node:stream";
import { createLogger, type Logger } from "@fame/logger";
import {
  batchOf,
  CHANNEL_KEPT_META,
  CLEAR_BATCH_CAPABILITY,
  decodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  type ErrorCode,
  encodeEnvelope,
  type Frame,
  type Jwk,
  makeEnvelope,
  NOT_EXECUTED_META,
  sidFromPath,
} from "@fame/protocol";
import type { ChannelSettings } from "../../src/channel/channel-manager.js";
import { ConnectionError } from "../../src/connection/connection-error.js";
import type { LinkDialer, LinkHandlers, NodeLink } from "../../src/connection/node-link.js";
import { connectFabric, type Fabric } from "../../src/fabric.js";
import { nodeConfigFromEnv } from "../../src/index.js";

export const SENTINEL_SID = sidFromPath("/fake_sentinel");

/** What a tap decides for an envelope on its way through: relay it, or let it vanish. */
export type Verdict = "relay" | "drop";

/** One attached node as the sentinel sees it. */
export interface Attached {
  name: string;
  path: string;
  sid: string;
  keys: Jwk[];
  readonly bound: Set<string>;
  link: FakeLink;
}

/** The node's end of an in-memory link: what it sends reaches the sentinel a microtask later. */
class FakeLink implements NodeLink {
  readonly remote = "fake-sentinel";
  bufferedAmount = 0;
  open = true;
  /** messages the node wrote, and how many times it asked for a flush */
  written = 0;
  flushes = 0;

  constructor(
    private readonly sentinel: FakeSentinel,
    readonly handlers: LinkHandlers,
    readonly name: string,
    /** the URL it was dialled at: which member of a cluster it reached */
    readonly url: string,
  ) {}

  send(text: string): void {
    if (!this.open) return;
    this.written++;
    queueMicrotask(() => this.sentinel.fromNode(this, text));
  }

  flush(): void {
    this.flushes++;
  }

  close(code: number, reason: string): Promise<void> {
    this.cut(code, reason);
    return Promise.resolve();
  }

  terminate(): void {
    this.cut(1006, "");
  }

  /** the sentinel's side: one message to the node */
  deliver(text: string): void {
    if (this.open) queueMicrotask(() => this.open && this.handlers.onMessage(text));
  }

  cut(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    queueMicrotask(() => this.handlers.onClose(code, reason));
  }
}

export class FakeSentinel {
  /** every envelope a node sent, in order */
  readonly seen: { from: string; env: Envelope }[] = [];
  /** consulted for every relayed envelope (not control frames) */
  tap: ((env: Envelope, from: Attached) => Verdict) | undefined;
  /** nodes currently attached, by path */
  private readonly nodes = new Map<string, Attached>();
  private readonly byLink = new Map<FakeLink, Attached>();
  /** answers every NodeAttach with this refusal */
  refuseAttach: ErrorCode | undefined;
  /** answers poolBatches at attach to nodes announcing clear batches (a sentinel that places them) */
  poolBatches = false;
  /** the frame limit announced at attach (none: the nodes keep their own 1 MiB) */
  maxFrameBytes: number | undefined;
  /** channel pins: the path of the node that accepted each cid (a cluster keeps them by identity) */
  private readonly pins = new Map<string, string>();
  /** links dialled so far, per node name */
  readonly dials = new Map<string, number>();
  /** every dial in order, refused ones included: which node tried which URL */
  readonly dialed: { name: string; url: string; refused: boolean }[] = [];
  /**
   * URLs where nobody listens (a cluster member that is down): dials fail as connection refused.
   * One fake stands for a whole cluster whose members share state (pins), as the KV makes them.
   */
  readonly down = new Set<string>();
  /** assigned paths are `<pathPrefix>/<systemId>`: change it to hand out new sids */
  pathPrefix = "";

  /** the LinkDialer a node named `name` attaches with */
  dialer(name: string): LinkDialer {
    return async (target, handlers) => {
      const refused = this.down.has(target.url);
      this.dialed.push({ name, url: target.url, refused });
      if (refused) throw new ConnectionError("connect_failed", `${target.url}: connect ECONNREFUSED`);
      this.dials.set(name, (this.dials.get(name) ?? 0) + 1);
      return new FakeLink(this, handlers, name, target.url);
    };
  }

  /** the member at `url` dies: its links drop and it refuses dials until `revive(url)` */
  kill(url: string): void {
    this.down.add(url);
    for (const n of this.nodes.values()) if (n.link.url === url) n.link.cut(1006, "");
  }

  revive(url: string): void {
    this.down.delete(url);
  }

  /** node `name` as last attached (an earlier attach under another path may linger, its link closed) */
  node(name: string): Attached {
    let found: Attached | undefined;
    for (const n of this.nodes.values()) if (n.name === name) found = n;
    if (found === undefined) throw new Error(`${name} is not attached`);
    return found;
  }

  /** envelopes node `name` sent whose frame is of `type` */
  sent(name: string, type: Frame["type"]): Envelope[] {
    return this.seen.filter((s) => s.from === name && s.env.frame.type === type).map((s) => s.env);
  }

  /** drops node `name`'s link, as a network failure would */
  cut(name: string): void {
    this.node(name).link.cut(1006, "");
  }

  /** a negative DeliveryAck from the sentinel to the sender of `env` */
  /** one negative DeliveryAck per conversation `env` carried (a batch carries several) */
  nack(env: Envelope, code: ErrorCode, notExecuted = false, channelKept = false): void {
    const to = this.nodes.get(pathOf(env.replyTo));
    if (!to) throw new Error(`nobody at ${env.replyTo}`);
    const batch = batchOf(env);
    for (const corrId of batch === undefined ? [env.corrId ?? env.id] : batch.map((e) => e.corrId))
      this.nackOne(to, env, corrId, code, notExecuted, channelKept);
  }

  private nackOne(
    to: Attached,
    env: Envelope,
    corrId: string,
    code: ErrorCode,
    notExecuted: boolean,
    channelKept: boolean,
  ): void {
    this.reply(to, {
      to: env.replyTo,
      corrId,
      frame: { type: "DeliveryAck", ok: false, refId: env.id, code, reason: `${code} (fake sentinel)` },
      ...(notExecuted || channelKept
        ? {
            meta: {
              ...(notExecuted ? { [NOT_EXECUTED_META]: true } : {}),
              ...(channelKept ? { [CHANNEL_KEPT_META]: true } : {}),
            },
          }
        : {}),
    });
  }

  fromNode(link: FakeLink, text: string): void {
    if (!link.open) return;
    const env = decodeEnvelope(text);
    this.seen.push({ from: link.name, env });
    const frame = env.frame;
    const node = this.byLink.get(link);
    if (frame.type === "NodeAttach") {
      if (this.refuseAttach !== undefined) {
        const code = this.refuseAttach;
        link.deliver(
          encodeEnvelope(
            makeEnvelope({
              sid: SENTINEL_SID,
              corrId: env.id,
              frame: { type: "NodeAttachAck", ok: false, code, reason: "refused by the test" },
            }),
          ),
        );
        return;
      }
      const path = `${this.pathPrefix}/${frame.systemId}`;
      const attached: Attached = {
        name: link.name,
        path,
        sid: sidFromPath(path),
        keys: frame.keys,
        bound: new Set(),
        link,
      };
      this.nodes.set(path, attached);
      this.byLink.set(link, attached);
      this.reply(attached, {
        corrId: env.id,
        frame: {
          type: "NodeAttachAck",
          ok: true,
          assignedPath: path,
          heartbeatMs: 60_000,
          ...(this.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.maxFrameBytes }),
          ...(this.poolBatches && frame.capabilities?.includes(CLEAR_BATCH_CAPABILITY) === true
            ? { poolBatches: true }
            : {}),
        },
      });
      return;
    }
    if (!node) throw new Error(`${frame.type} before NodeAttach`);
    switch (frame.type) {
      case "AddressBind":
        node.bound.add(frame.address);
        this.reply(node, {
          corrId: env.id,
          frame: { type: "AddressBindAck", address: frame.address, ok: true },
        });
        return;
      case "AddressUnbind":
        node.bound.delete(frame.address);
        return;
      case "KeyRequest": {
        const owner = [...this.nodes.values()].find(
          (n) => n.link.open && n.keys.some((k) => k.kid === frame.kid),
        );
        this.reply(node, {
          corrId: env.id,
          frame: owner
            ? { type: "KeyAnnounce", keys: owner.keys, sid: owner.sid }
            : { type: "KeyAnnounce", keys: [] },
        });
        return;
      }
      case "Heartbeat":
      case "Drain":
        return;
      default:
        this.relay(node, env, text);
    }
  }

  private relay(from: Attached, env: Envelope, text: string): void {
    if (this.tap?.(env, from) === "drop") return;
    const cid = env.sec?.enc?.cid;
    if (cid !== undefined && !isPhysical(env.to)) {
      // a client's channel data follows the channel's pin; with its replica gone, channel_unknown
      const pinned = this.nodes.get(this.pins.get(cid) ?? "");
      if (pinned?.link.open) pinned.link.deliver(text);
      else this.nack(env, "channel_unknown", true);
      return;
    }
    const to = this.route(env.to);
    if (!to) {
      if (env.frame.type !== "DeliveryAck") this.nack(env, "no_route", true);
      return;
    }
    if (env.frame.type === "SecureOpen") this.pins.set(env.frame.cid, to.path);
    to.link.deliver(text);
  }

  /** a physical address's node, or the last live node bound to a logical one */
  private route(address: string | undefined): Attached | undefined {
    if (address === undefined) return undefined;
    const physical = this.nodes.get(pathOf(address));
    if (physical?.link.open) return physical;
    let found: Attached | undefined;
    for (const n of this.nodes.values()) if (n.link.open && n.bound.has(address)) found = n;
    return found;
  }

  private reply(to: Attached, init: Omit<EnvelopeInit<Frame>, "sid">): void {
    to.link.deliver(encodeEnvelope(makeEnvelope({ ...init, sid: SENTINEL_SID } as EnvelopeInit<Frame>)));
  }
}

function isPhysical(address: string | undefined): boolean {
  return address?.includes("@/") === true;
}

function pathOf(address: string | undefined): string {
  const at = address?.indexOf("@") ?? -1;
  return at < 0 ? "" : address!.slice(at + 1);
}

export function quietLogger(): Logger {
  return createLogger({
    name: "sdk-test",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
}

/** A node connected through connectFabric, as an application would, over the fake sentinel. */
export async function connectNode(
  sentinel: FakeSentinel,
  name: string,
  env: Record<string, string> = {},
  options: { coalesce?: boolean; channels?: Partial<ChannelSettings> } = {},
): Promise<Fabric> {
  return connectFabric({
    ...(options.channels ? { channels: options.channels } : {}),
    name,
    config: nodeConfigFromEnv({
      FAME_SECURITY_PROFILE: "overlay",
      FAME_ADMISSION_PROFILE: "none",
      FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
      FAME_NODE_ID: name,
      FAME_SENTINEL_URL: "wss://fake-sentinel/fame/v1/attach/ws/downstream",
      FAME_RPC_RETRY_INITIAL_MS: "1",
      FAME_RPC_RETRY_MAX_MS: "5",
      ...(options.coalesce === false ? { FAME_CHANNEL_COALESCE: "false" } : {}),
      ...env,
    }),
    logger: quietLogger(),
    installDefault: false,
    dial: sentinel.dialer(name),
  });
}
