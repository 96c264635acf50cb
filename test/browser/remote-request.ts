/** HTTPS requests to the sentinel through one of this machine's own non-loopback addresses. */
import { request } from "node:https";
import { networkInterfaces } from "node:os";

/** this machine's first non-internal IPv4 address (traffic to it stays on the machine) */
export function nonLoopbackIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

/**
 * GET `path` from `host:port` and read at most the first chunk of the body (a stream stays open
 * otherwise). The certificate is checked against the trust bundle and the name `localhost`
 * (the dev certificate's name), not against the bare address.
 */
export function getOnce(
  host: string,
  port: number,
  path: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; firstChunk: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, ca, servername: "localhost", headers, timeout: 10_000 },
      (res) => {
        res.once("data", (chunk: Buffer) => {
          resolve({ status: res.statusCode ?? 0, firstChunk: chunk.toString("utf8") });
          req.destroy();
        });
        res.once("end", () => resolve({ status: res.statusCode ?? 0, firstChunk: "" }));
      },
    );
    req.once("timeout", () => req.destroy(new Error(`GET ${path} from ${host} timed out`)));
    req.once("error", reject);
    req.end();
  });
}
