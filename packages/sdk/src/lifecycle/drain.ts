/** What a draining replica watches to know its clients are done with it. */
export interface DrainProbe {
  /** served operations still running (or streaming) */
  activeCalls(): number;
  /** ms epoch of the last channel frame in or out */
  lastActivityAt(): number;
}

export interface DrainOptions {
  /** how long without calls or channel frames counts as done */
  quietMs: number;
  /** the drain never lasts longer than this, quiet or not */
  timeoutMs: number;
  /** how often to look; default min(100, quietMs) */
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type DrainOutcome = "idle" | "timeout";

const realSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Resolves once nothing runs and no channel frame has moved for `quietMs`
 * ("idle"), or when `timeoutMs` has passed ("timeout"), whichever is first.
 * Pinned clients keep being served until then: the sentinel only stopped
 * sending this replica new channels.
 */
export async function waitUntilDrained(probe: DrainProbe, opts: DrainOptions): Promise<DrainOutcome> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const pollMs = Math.max(1, opts.pollMs ?? Math.min(100, opts.quietMs));
  const deadline = now() + opts.timeoutMs;
  // The loop ends at the deadline; the bound on iterations only guards against a clock that stands still.
  const maxPolls = Math.ceil(opts.timeoutMs / pollMs) + 1;
  for (let i = 0; i <= maxPolls; i++) {
    const t = now();
    if (probe.activeCalls() === 0 && t - probe.lastActivityAt() >= opts.quietMs) return "idle";
    if (t >= deadline) return "timeout";
    await sleep(Math.min(pollMs, deadline - t));
  }
  return "timeout";
}
