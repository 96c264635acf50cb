/** Progress lines on stderr, stamped with the time since the run started. */
export function createProgress(start = performance.now()) {
  return {
    step(message) {
      const s = ((performance.now() - start) / 1000).toFixed(1).padStart(6);
      process.stderr.write(`[${s}s] ${message}\n`);
    },
    elapsedMs: () => performance.now() - start,
  };
}
