/**
 * How long the sentinel spends on one frame, from its rate check to its hand-off to the
 * receiver's socket: the synchronous part of `Sentinel.receive`. Waits on other work (an
 * attach being verified, a channel pin being checked) are not in it: they hold no frame up.
 */
import { Histogram, histogramFamily, type MetricFamily } from "@fame/telemetry";

/**
 * Seconds. A routed frame takes tens of microseconds on loopback, so the buckets start at
 * 5 µs, finer than the telemetry package's call-latency buckets (100 µs up), and end at 100 ms,
 * where a frame has stalled the event loop.
 */
export const ROUTE_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
]);

export const ROUTE_SECONDS_METRIC = "fame_sentinel_route_seconds";

/**
 * On average 1 frame in this many is timed. Two clock reads and a bucket scan (~150 ns) on
 * every frame measured ~6 % of the sentinel's in-process cost of a routed frame (~3 µs CPU,
 * no sockets); sampled, the rest pay one decrement. The histogram's counts are of sampled
 * frames; its quantiles are those of all frames.
 */
export const ROUTE_SAMPLE_EVERY = 16;

/** frames until the next sample: uniform in 1..2N-1 (mean N), so no periodic traffic aliases with it */
export function nextRouteSampleGap(): number {
  return 1 + Math.floor(Math.random() * (2 * ROUTE_SAMPLE_EVERY - 1));
}

export function newRouteTimeHistogram(): Histogram {
  return new Histogram(ROUTE_SECONDS_BUCKETS);
}

export function routeTimeFamily(h: Histogram): MetricFamily {
  return histogramFamily(
    ROUTE_SECONDS_METRIC,
    `Time the sentinel spends on one frame (decode, verify, authorize, route, hand-off to the socket); 1 frame in ${ROUTE_SAMPLE_EVERY} is timed, at random.`,
    h,
  );
}
