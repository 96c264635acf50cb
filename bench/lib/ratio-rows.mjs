/** Table rows of the side-by-side ratios (bench/sections/ratios.mjs): medians of rounds. */

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const times = (x) => `${x.toFixed(2)}×`;

export function ratioRows(R) {
  if (!R || R.rounds.length === 0) return [];
  const m = R.medians;
  const n = R.rounds.length;
  const rounds = (key, fmt) => `rounds ${R.rounds.map((r) => fmt(r[key])).join(", ")}`;
  const share = (label, key, min) => ({
    section: "ratios",
    label: `${label} (median of ${n} rounds)`,
    value: m[key] * 100,
    unit: "%",
    ratio: rounds(key, pct),
    target: `≥ ${min * 100}%`,
    pass: m[key] >= min,
  });
  const slower = (label, key, max) => ({
    section: "ratios",
    label: `${label} (median of ${n} rounds)`,
    value: m[key],
    unit: "×",
    ratio: rounds(key, times),
    target: `≤ ${max}×`,
    pass: m[key] <= max,
  });
  return [
    share("open/plaintext add, 64 in flight, of the relay's rate", "openOfRelay", 0.6),
    share("strict-overlay/channel add, 64 in flight, of the relay's rate", "channelOfRelay", 0.6),
    share("open/plaintext add, 64 in flight, of the channel's rate", "openOfChannel", 1),
    slower("open/plaintext add, sequential p50, times the relay's", "openSeqTimesRelay", 1.5),
    slower("strict-overlay/channel add, sequential p50, times the relay's", "channelSeqTimesRelay", 1.5),
  ];
}
