/** What a FabricNode is built from: its options, and the factories of the layers it joins. */
import type { ChannelManager } from "../channel/channel-manager.js";
import type { CoalescerLimits } from "../channel/record-coalescer.js";
import type { ConnectionEvents, FabricConnection } from "../connection/fabric-connection.js";
import type { CallerIdentity } from "../rpc/call-context.js";
import type { RpcInbound, RpcOutbound } from "../rpc/transport.js";

export interface FabricNodeOptions {
  encryption: "plaintext" | "channel";
  /** stateless stickiness: echo the replica's AFT on channel data */
  echoAft: boolean;
  /**
   * How long a request waits for the sentinel link while it is being re-established,
   * instead of failing at once and burning its retries on the outage; default 5000.
   * Keep it well under the call timeout.
   */
  reconnectWaitMs?: number;
  /**
   * Seal the messages sent on one channel in the same event-loop turn as one record
   * (default true); false sends one record per message. Limits: see CoalescerLimits.
   */
  coalesce?: boolean | Partial<CoalescerLimits>;
  /**
   * What is known of a verified sender (its certificate's identity), handed to served
   * operations as `ctx.caller`; without it they see the sid alone.
   */
  identify?: (sid: string) => CallerIdentity | undefined;
}

/**
 * The layers a node joins, each built on the one below. They report upwards to the node
 * (connection events, RPC sends), so each is built by the node, which hands itself over.
 */
export interface FabricNodeParts<E extends RpcInbound> {
  /** the session with the sentinel; reports its envelopes and its losses to the node */
  connection(events: ConnectionEvents): FabricConnection;
  /** channel encryption over that session */
  channels(connection: FabricConnection): ChannelManager;
  /** the RPC layer fed by the node, sending through it */
  endpoint(outbound: RpcOutbound): E;
}
