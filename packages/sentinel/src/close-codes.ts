/** WebSocket close codes the sentinel uses; 1008 = policy violation per RFC 6455. */
export const CLOSE = {
  policy: 1008,
  tooBig: 1009,
  goingAway: 1001,
  superseded: 4000,
  heartbeat: 4001,
  attachTimeout: 4002,
  idle: 4003,
} as const;
