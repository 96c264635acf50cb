// Preloaded into one process (NODE_OPTIONS=--import=<this file>): its wall clock runs
// FAME_TEST_CLOCK_OFFSET_MS ahead (or behind, when negative), as on a host whose time drifted.
// Only Date.now moves; timers and performance.now are untouched.
const offset = Number(process.env.FAME_TEST_CLOCK_OFFSET_MS ?? 0);
if (Number.isFinite(offset) && offset !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + offset;
}
