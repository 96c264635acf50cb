export { AttachGate, type AttachGateOptions, type GateVerdict } from "./attach-gate.js";
export { LIMIT_DEFAULTS } from "./defaults.js";
export {
  FRAME_CLOSE,
  FRAME_DROP,
  FRAME_NACK,
  FRAME_OK,
  FrameBucket,
  FrameRateLimiter,
  type FrameRateSettings,
  type FrameVerdict,
  NACK_EVERY,
} from "./frame-rate.js";
export { LogThrottle } from "./log-throttle.js";
export { hostOf, PendingAttaches } from "./pending-attaches.js";
export { remoteKey } from "./remote-key.js";
export { TokenBucketLimiter, type TokenBucketOptions } from "./token-bucket.js";
