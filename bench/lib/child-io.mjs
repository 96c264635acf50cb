/**
 * How bench child processes talk to the orchestrator: arguments as one JSON
 * argv entry, readiness and results as tagged stdout lines.
 */
export const READY_TAG = "BENCH_READY";
export const RESULT_TAG = "BENCH_RESULT";

/** the JSON object passed as the first argument */
export function readArgs() {
  const raw = process.argv[2];
  if (!raw) return {};
  const parsed = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error("bench child: argument must be a JSON object");
  return parsed;
}

export function emitReady(info = {}) {
  process.stdout.write(`${READY_TAG} ${JSON.stringify(info)}\n`);
}

export function emitResult(result) {
  process.stdout.write(`${RESULT_TAG} ${JSON.stringify(result)}\n`);
}

/** runs a child's main, printing a failure plainly and exiting non-zero */
export function runChild(name, main) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
