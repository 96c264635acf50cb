import { isIPv4, isIPv6 } from "node:net";

/**
 * The rate-limit key of a remote address: the IPv4 address itself (also when
 * it arrives IPv4-mapped, `::ffff:a.b.c.d`), or the /64 prefix of an IPv6
 * address, because one IPv6 host usually controls a whole /64.
 */
export function remoteKey(address: string | undefined): string {
  if (!address) return "unknown";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return "unknown";
  const groups = expandIPv6(address.split("%")[0]!);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : "unknown";
}

/** eight 16-bit groups, lower-case hex without leading zeros; undefined if malformed */
function expandIPv6(address: string): string[] | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  // an embedded IPv4 tail (::ffff:1.2.3.4 forms other than the mapped one) counts as two groups
  const last = tail.length > 0 ? tail[tail.length - 1]! : head[head.length - 1];
  const v4Tail = last?.includes(".") === true;
  const missing = 8 - head.length - tail.length - (v4Tail ? 1 : 0);
  if (halves.length === 1 && missing !== 0) return undefined;
  if (halves.length === 2 && missing < 0) return undefined;
  const groups = [...head, ...Array<string>(Math.max(0, missing)).fill("0"), ...tail];
  return groups.map((g) => (g.includes(".") ? g : Number.parseInt(g, 16).toString(16)));
}
