/** Table rows and text of the hop traces (bench/sections/hops.mjs). */

/** the section's table rows: each round trip's median, and its split */
export function hopRows(H) {
  if (!H) return [];
  const rows = [];
  for (const [key, label] of [
    ["relay", "relay TLS (one hop)"],
    ["open", "open/plaintext add"],
    ["channel", "strict-overlay/channel add"],
  ]) {
    const r = H[key];
    if (!r) continue;
    const t = r.totals;
    const work = Object.entries(t.work)
      .map(([p, us]) => `${p} ${us.toFixed(0)}`)
      .join(", ");
    rows.push({
      section: "hops",
      label: `${label}, sequential round trip, traced (${r.trips} trips)`,
      value: r.cycleP50Us,
      unit: "µs",
      ratio: `wire ${t.wire.toFixed(0)} + transport ${t.transport.toFixed(0)} + work: ${work} (µs, medians)`,
    });
  }
  return rows;
}

/** the legs and stages as text, printed after the table */
export function formatHops(H) {
  if (!H) return "";
  const parts = [];
  for (const key of ["relay", "open", "channel"]) {
    const r = H[key];
    if (!r) {
      parts.push(`${key}: no complete round trip traced`);
      continue;
    }
    parts.push(`${key}: round trip p50 ${r.cycleP50Us.toFixed(1)} µs over ${r.trips} trips`);
    for (const l of r.legs) {
      const idle =
        l.afterSenderIdleP50Us === undefined
          ? ""
          : `   (${l.afterSenderIdleP50Us.toFixed(1)} µs after the sender's turn ended)`;
      parts.push(`  ${l.name.padEnd(28)} ${l.p50Us.toFixed(1).padStart(7)} µs${idle}`);
    }
    for (const [proc, w] of Object.entries(r.writes ?? {})) {
      parts.push(
        `  ${proc}: a socket write takes ${w.writeP50Us.toFixed(1)} µs (TLS, syscall, loopback delivery), its turn ends ${w.afterWriteP50Us.toFixed(1)} µs after`,
      );
    }
    for (const [proc, marks] of Object.entries(r.stages ?? {})) {
      if (marks.length === 0) continue;
      parts.push(
        `  ${proc}, from the bytes' arrival: ${marks.map((m) => `${m.mark} ${m.atUs.toFixed(1)}`).join(" · ")}`,
      );
    }
  }
  return parts.join("\n");
}
