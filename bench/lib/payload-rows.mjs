/**
 * Report rows of the large-payload section (bench/sections/payloads.mjs): per size, the bare
 * relay, the plaintext and sealed echo through the fabric, and the channel AEAD alone. Rates
 * are MB/s of payload each way (1 MB = 10^6 B); the relay row moves the same bytes per frame.
 */
const pct = (x) => `${(x * 100).toFixed(1)}%`;

const mbps = (r, bytes) => (r.perSec * bytes) / 1e6;

function measured(r) {
  const split = r.cpuUsPerOp ?? {};
  const parts = Object.values(split);
  return {
    ...(r.latencyMs ? { p50: r.latencyMs.p50, p99: r.latencyMs.p99 } : {}),
    ...(parts.length > 0 ? { cpuUs: parts.reduce((a, b) => a + b, 0), cpuSplit: split } : {}),
  };
}

export function payloadRows(P) {
  if (!P?.sizes) return [];
  const rows = [];
  const n = P.inflight;
  for (const bytes of P.sizes) {
    const size = `${bytes / 1024} KiB`;
    const relay = P.relay?.[bytes];
    const relayRate = relay ? mbps(relay, bytes) : undefined;
    const aead = P.aead?.rows?.[bytes];
    if (relay) {
      rows.push({
        section: "payloads",
        label: `relay TLS (one hop), ${size} text frames, ${n} in flight`,
        value: relayRate,
        unit: "MB/s each way",
        ...measured(relay),
      });
    }
    const fabricRow = (r, name, judged) => {
      if (!r) return;
      const rate = mbps(r, bytes);
      const vsRelay = relayRate ? rate / relayRate : undefined;
      const parts = [];
      if (vsRelay !== undefined) parts.push(`${pct(vsRelay)} of relay`);
      if (judged && aead) parts.push(`${pct(rate / aead.sealMBps)} of AEAD seal`);
      rows.push({
        section: "payloads",
        label: `echo ${size} ${name}, ${n} in flight`,
        value: rate,
        unit: "MB/s each way",
        ...measured(r),
        ...(parts.length > 0 ? { ratio: parts.join(", ") } : {}),
        ...(judged && bytes === 64 * 1024 && vsRelay !== undefined
          ? { target: "≥ 50% of relay", pass: vsRelay >= 0.5 }
          : {}),
      });
    };
    fabricRow(P.plaintext?.[`echo_${bytes}`], "open/plaintext", false);
    fabricRow(P.sealed?.[`echo_${bytes}`], "strict-overlay/channel", true);
    if (aead) {
      rows.push({
        section: "payloads",
        label: `AEAD ${size} (${P.aead.backend} chacha20-poly1305), seal`,
        value: aead.sealMBps,
        unit: "MB/s",
        ratio: `open ${Math.round(aead.openMBps)} MB/s`,
      });
    }
  }
  return rows;
}
