export {
  type ClusterSentinel,
  type ClusterStack,
  type ClusterStackOptions,
  startClusterStack,
} from "./cluster-stack.js";
export { createTestPki, type TestPki } from "./dev-pki.js";
export {
  binOf,
  type FabricStack,
  type FabricStackOptions,
  freePort,
  freePorts,
  REPO_ROOT,
  startFabricStack,
} from "./fabric-stack.js";
export {
  type NatsCluster,
  type NatsServer,
  type NatsServerOptions,
  natsServerBinary,
  startNatsCluster,
  startNatsServer,
} from "./nats-servers.js";
export { type ProcessSpec, pidAlive, type RunningProcess, startProcess, stopAll } from "./processes.js";
export {
  admitRawNode,
  type RawClose,
  type RawConnectOutcome,
  RawNode,
  type RawNodeOptions,
} from "./raw-node.js";
