/**
 * Report rows of the idle-cost run (bench/scale/idle-cost.mjs): sentinel memory per attached
 * idle node and per live pinned channel, split into the JS heap, Buffers (`external`) and the
 * rest of the resident set (OpenSSL, allocator, heap slack). Channels are judged once their
 * opens have left the replay window; the heap they held just after opening is shown beside.
 */
const KIB = 1024;

function split(p, unit) {
  const f = (v) => (unit === KIB ? (v / KIB).toFixed(1) : Math.round(v).toString());
  const u = unit === KIB ? " KiB" : " B";
  return `heap ${f(p.heapUsed)} + buffers ${f(p.external)} + native ${f(p.native)}${u}`;
}

export function idleRows(idle) {
  if (!idle?.rows) return [];
  const rows = [];
  for (const r of idle.rows) {
    const n = r.nodes.toLocaleString("en-US");
    const node = r.perNode;
    rows.push({
      section: "scale",
      label: `sentinel RSS per attached idle node (${n} nodes)`,
      value: node.rss / KIB,
      unit: "KiB",
      ratio: split(node, KIB),
      target: "≤ 20 KiB",
      pass: node.rss <= 20 * KIB,
    });
    const ch = r.perChannel;
    const opened = r.perChannelJustOpened;
    rows.push({
      section: "scale",
      label: `sentinel RSS per live pinned channel (${n} channels)`,
      value: ch.rss,
      unit: "B",
      ratio: `${split(ch, 1)}${opened ? `; heap ${Math.round(opened.heapUsed)} B just opened` : ""}`,
      target: "heap ≤ 250 B/pin",
      pass: ch.heapUsed <= 250,
    });
  }
  return rows;
}
