export * from "./agent/index.js";
export {
  ChannelManager,
  ChannelOpenError,
  type ChannelSettings,
  DEFAULT_CHANNEL_SETTINGS,
} from "./channel/channel-manager.js";
export { SecureChannel } from "./channel/secure-channel.js";
export { type NodeConfig, nodeConfigFromEnv } from "./config/node-config.js";
export { describeEnvelope } from "./connection/envelope-view.js";
export { type AttachPlan, ConnectionError, FabricConnection } from "./connection/fabric-connection.js";
export { NodeSigner } from "./connection/node-signer.js";
export { type PeerKey, PeerKeyDirectory } from "./connection/peer-keys.js";
export { type ConnectOptions, connectFabric, type Fabric, withFabric } from "./fabric.js";
export { CHANNEL_META_KEY, FabricNode } from "./fabric-node.js";
export * from "./rpc/index.js";
