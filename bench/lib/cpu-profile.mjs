import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

/** which part of the system a profiled function belongs to */
function areaOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /\/(packages|services)\/([^/]+)\/dist\//.exec(url);
  if (pkg) return `@fame/${pkg[2]}`;
  const mod = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (mod) return mod[1];
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  return basename(url);
}

/**
 * Self time of a V8 .cpuprofile, by function and by area (package, node core, GC),
 * as shares of the busy samples; idle samples are reported apart as idlePct.
 */
export function summarizeProfile(file, top = 12) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byFn = new Map();
  const byArea = new Map();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += hits;
      continue;
    }
    total += hits;
    const where = url ? `${basename(url)}:${lineNumber + 1}` : "";
    const key = `${name} ${where}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const area = areaOf(url, name);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const share = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, hits]) => ({ name, pct: Math.round((hits / total) * 1000) / 10 }));
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  return {
    file: basename(file),
    durationMs: Math.round(durationMs),
    samples: total,
    idlePct: Math.round((idle / Math.max(1, idle + total)) * 1000) / 10,
    topFunctions: share(byFn).slice(0, top),
    areas: share(byArea).slice(0, top),
  };
}

/** the newest .cpuprofile in a directory, if any */
export function latestProfile(dir) {
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  } catch {
    return undefined;
  }
  files.sort();
  const last = files.at(-1);
  return last ? join(dir, last) : undefined;
}
