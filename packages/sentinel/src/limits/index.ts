export { AttachGate, type AttachGateOptions, type GateVerdict } from "./attach-gate.js";
export { LIMIT_DEFAULTS } from "./defaults.js";
export { LogThrottle } from "./log-throttle.js";
export { hostOf, PendingAttaches } from "./pending-attaches.js";
export { remoteKey } from "./remote-key.js";
export { TokenBucketLimiter, type TokenBucketOptions } from "./token-bucket.js";
