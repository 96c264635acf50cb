export * from "./agent/index.js";
export {
  ChannelManager,
  ChannelOpenError,
  type ChannelSettings,
  type ChannelTransport,
  DEFAULT_CHANNEL_SETTINGS,
} from "./channel/channel-manager.js";
export { SecureChannel } from "./channel/secure-channel.js";
export { type NodeConfig, nodeConfigFromEnv } from "./config/node-config.js";
export { describeEnvelope } from "./connection/envelope-view.js";
export {
  type AttachPlan,
  ConnectionError,
  type ConnectionEvents,
  type ConnectionState,
  FabricConnection,
  type FabricConnectionOptions,
} from "./connection/fabric-connection.js";
export type { LinkDialer, LinkHandlers, LinkTarget, NodeLink } from "./connection/node-link.js";
export { NodeSigner } from "./connection/node-signer.js";
export { type PeerKey, PeerKeyDirectory } from "./connection/peer-keys.js";
export { dialWebSocket } from "./connection/ws-link.js";
export { type ConnectOptions, connectFabric, type Fabric, withFabric } from "./fabric.js";
export { CHANNEL_META_KEY, FabricNode, type FabricNodeOptions, type FabricNodeParts } from "./fabric-node.js";
export type { DrainOutcome } from "./lifecycle/drain.js";
export { ENVELOPE_RESERVE_BYTES, maxMessageBytes } from "./node/frame-limit.js";
export * from "./rpc/index.js";
export { isSettingError, SETTING_ERROR_EXIT } from "./setting-error.js";
