/** Table rows of the reconnect storm section (bench/sections/storm.mjs). */

export function stormRows(s) {
  if (!s) return [];
  const base = { section: "storm", unit: "ms" };
  return [
    {
      ...base,
      label: `reconnect storm, ${s.nodes} nodes: all answering again after SIGKILL`,
      value: s.allAnsweringMs,
      p50: s.p50Ms,
      ratio: `${s.recovered}/${s.nodes} back, ${s.failedCalls} failed calls`,
      target: "≤ 5000 ms",
      pass: s.recovered === s.nodes && s.failedCalls === 0 && s.allAnsweringMs <= 5000,
    },
    {
      ...base,
      label: "reconnect storm: after the new sentinel's port opened",
      value: s.allAnsweringAfterUpMs,
      ratio: `sentinel up in ${s.sentinelRestartMs} ms`,
    },
  ];
}
