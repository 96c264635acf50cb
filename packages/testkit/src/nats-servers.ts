/**
 * Real nats-server processes for tests: one JetStream server, or a JetStream cluster of
 * several, on free loopback ports with store directories under a temp dir. Ready means the
 * monitoring port says JetStream is up (and, for a cluster, a meta leader is elected).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePorts } from "./fabric-stack.js";

export interface NatsServerOptions {
  /** enable JetStream (default true: the shared state needs it) */
  jetstream?: boolean;
  /** a token clients must present; written to a config file, never on the command line */
  token?: string;
  /** how long to wait for readiness; default 20 s */
  readyTimeoutMs?: number;
}

export interface NatsServer {
  readonly name: string;
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** PID of the running process (undefined while killed) */
  readonly pid: number | undefined;
  output(): string;
  /** SIGKILL, keeping the store dir for restart */
  kill(): Promise<void>;
  /** starts again on the same ports and store dir, waits until ready */
  restart(): Promise<void>;
  /** stops the process and removes its directory */
  stop(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: NatsServer[];
  /** every node's URL */
  readonly urls: string[];
  /** the URLs comma-joined, as FAME_NATS_URL takes them */
  readonly url: string;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

const BINARY_CANDIDATES = ["/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server"];
const live = new Set<ChildProcess>();

process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** the nats-server binary: FAME_NATS_SERVER, the PATH, or Debian's /usr/sbin */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    ...(env["FAME_NATS_SERVER"] ? [env["FAME_NATS_SERVER"]] : []),
    ...(env["PATH"] ?? "")
      .split(delimiter)
      .filter((d) => d !== "")
      .map((d) => join(d, "nats-server")),
    ...BINARY_CANDIDATES,
  ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next candidate
    }
  }
  throw new Error(
    "nats-server not found (looked in FAME_NATS_SERVER, PATH, /usr/sbin): install it with `apt-get install -y nats-server` (Debian's package, JetStream included)",
  );
}

function httpJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (text.length < 1_000_000) text += c;
      });
      res.on("end", () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

interface NodeSpec {
  name: string;
  port: number;
  monitorPort: number;
  clusterPort?: number;
  routes?: number[];
  storeDir: string;
  configFile?: string;
  jetstream: boolean;
}

function argsOf(spec: NodeSpec): string[] {
  const args = ["-a", "127.0.0.1", "-p", String(spec.port), "-m", String(spec.monitorPort), "-n", spec.name];
  if (spec.configFile) args.push("-c", spec.configFile);
  if (spec.jetstream) args.push("-js", "-sd", spec.storeDir);
  if (spec.clusterPort !== undefined) {
    args.push("--cluster", `nats://127.0.0.1:${spec.clusterPort}`, "--cluster_name", "fame_test");
    const routes = (spec.routes ?? []).map((p) => `nats://127.0.0.1:${p}`);
    if (routes.length > 0) args.push("--routes", routes.join(","));
  }
  return args;
}

class NatsProcess implements NatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  private out = "";
  readonly url: string;

  constructor(
    private readonly spec: NodeSpec,
    private readonly binary: string,
    private readonly readyTimeoutMs: number,
    private readonly waitMeta: boolean,
    private readonly removeOnStop: string,
  ) {
    this.url = `nats://127.0.0.1:${spec.port}`;
  }

  get name(): string {
    return this.spec.name;
  }
  get port(): number {
    return this.spec.port;
  }
  get monitorPort(): number {
    return this.spec.monitorPort;
  }
  get storeDir(): string {
    return this.spec.storeDir;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  output(): string {
    return this.out;
  }

  spawn(): void {
    const child = spawn(this.binary, argsOf(this.spec), { stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid === undefined) throw new Error(`${this.name}: spawn of ${this.binary} failed`);
    const onData = (b: Buffer) => {
      this.out += b.toString("utf8");
      if (this.out.length > 2_000_000) this.out = this.out.slice(-1_000_000);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    live.add(child);
    this.exited = once(child, "close").then(() => live.delete(child));
    this.child = child;
  }

  /** polls the monitoring port: the only readiness signal nats-server gives */
  async waitReady(meta = this.waitMeta): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    const base = `http://127.0.0.1:${this.spec.monitorPort}`;
    let last = "";
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const child = this.child;
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited before becoming ready:\n${this.out.slice(-3000)}`);
      }
      try {
        // a cluster node is ready when JetStream is current (meta and streams caught up after a
        // restart): plain /healthz; a single server only needs JetStream enabled
        const query = this.spec.jetstream && !meta ? "?js-enabled-only=true" : "";
        const health = await httpJson(`${base}/healthz${query}`, 1000);
        if (health.status === 200) {
          if (!meta) return;
          const jsz = await httpJson(`${base}/jsz`, 1000);
          const leader = (jsz.body as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
          if (leader) return;
          last = "no JetStream meta leader yet";
        } else last = `healthz ${health.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, Math.min(50 * (attempt + 1), 250)));
    }
    throw new Error(
      `${this.name}: not ready within ${this.readyTimeoutMs} ms (${last}):\n${this.out.slice(-3000)}`,
    );
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await this.exited;
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.kill();
    this.spawn();
    await this.waitReady();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    if (this.removeOnStop !== "") rmSync(this.removeOnStop, { recursive: true, force: true });
  }
}

function writeConfig(dir: string, token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const file = join(dir, "auth.conf");
  writeFileSync(file, `authorization { token: ${JSON.stringify(token)} }\n`, { mode: 0o600 });
  return file;
}

/** one nats-server (JetStream on by default) on free loopback ports */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "fame-nats-"));
  const [port, monitorPort] = (await freePorts(2)) as [number, number];
  const spec: NodeSpec = {
    name: "nats-0",
    port,
    monitorPort,
    storeDir: join(dir, "store"),
    jetstream: opts.jetstream ?? true,
    ...(opts.token !== undefined ? { configFile: writeConfig(dir, opts.token) } : {}),
  };
  const server = new NatsProcess(spec, binary, opts.readyTimeoutMs ?? 20_000, false, dir);
  server.spawn();
  try {
    await server.waitReady();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** `size` JetStream nodes routed to each other (R3 buckets need 3) */
export async function startNatsCluster(size = 3, opts: NatsServerOptions = {}): Promise<NatsCluster> {
  if (!Number.isInteger(size) || size < 1 || size > 5) throw new RangeError("cluster size must be 1..5");
  const binary = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "fame-nats-cluster-"));
  const ports = await freePorts(size * 3);
  const configFile = writeConfig(dir, opts.token);
  const clusterPorts = Array.from({ length: size }, (_, i) => ports[i * 3 + 2]!);
  const nodes = Array.from(
    { length: size },
    (_, i) =>
      new NatsProcess(
        {
          name: `nats-${i}`,
          port: ports[i * 3]!,
          monitorPort: ports[i * 3 + 1]!,
          clusterPort: clusterPorts[i]!,
          routes: clusterPorts.filter((_, j) => j !== i),
          storeDir: join(dir, `store-${i}`),
          jetstream: opts.jetstream ?? true,
          ...(configFile !== undefined ? { configFile } : {}),
        },
        binary,
        opts.readyTimeoutMs ?? 30_000,
        opts.jetstream ?? true,
        "",
      ),
  );
  const stopAllNodes = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) n.spawn();
    await Promise.all(nodes.map((n) => n.waitReady()));
  } catch (err) {
    await stopAllNodes();
    throw err;
  }
  const urls = nodes.map((n) => n.url);
  const at = (i: number): NatsProcess => {
    const n = nodes[i];
    if (n === undefined) throw new RangeError(`no NATS node ${i} (cluster of ${size})`);
    return n;
  };
  return {
    nodes,
    urls,
    url: urls.join(","),
    kill: (i) => at(i).kill(),
    restart: (i) => at(i).restart(),
    stop: stopAllNodes,
  };
}
