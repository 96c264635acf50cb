export {
  type Coverage,
  coverageOf,
  grantCovers,
  isValidLogical,
  isWildcardLogical,
  type ParsedLogicalAddress,
  parseLogicalAddress,
} from "./address.js";
export { fmix32, fnv1a32, hrwScore, keyHash, memberHash } from "./hash.js";
export { hrwRank, pickHrw, pickHrwBounded } from "./hrw.js";
export {
  createLoadBalancer,
  isLoadBalancerName,
  LOAD_BALANCER_NAMES,
  type LoadBalancer,
  type LoadBalancerName,
  type LoadBalancerOptions,
} from "./load-balancer.js";
export {
  BIND_ERROR_WIRE_CODE,
  type BindErrorCode,
  type BindMode,
  type BindResult,
  DEFAULT_MAX_ADDRESSES,
  DEFAULT_MAX_ADDRESSES_PER_NODE,
  LogicalRegistry,
  type LogicalRegistryOptions,
  type PoolSnapshot,
  type RegistrySnapshot,
} from "./logical-registry.js";
export {
  DEFAULT_MAX_POOL_MEMBERS,
  type PoolAddResult,
  type PoolMember,
  type PoolMemberStats,
  ReplicaPool,
  type ReplicaPoolOptions,
} from "./replica-pool.js";
