// `make failover-demo`: the demo client calls in a loop (FAME_CLIENT_LOOP_SEC)
// over one pinned channel; the replica it is pinned to is SIGKILLed, the
// channel fails over to the other replica, and the killed one is restarted.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { ROOT } from "./topology.mjs";

const CALL = /^call (\d+): add = \d+ on (\S+)/;

/**
 * Runs the demo; resolves the exit code (0 once a failover was seen and the
 * client finished cleanly). `kill(replica)` sends SIGKILL and returns
 * { pid, gone } (gone resolves once the process has ended); `restart(replica)`
 * resolves the new PID.
 */
export async function failoverDemo({ seconds, clientSpec, clientEnv, replicas, kill, restart, out }) {
  const t0 = Date.now();
  const at = () => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const say = (line) => out(`demo   | ${at().padStart(6)} ${line}`);
  say(`client calls math@fame.fabric for ${seconds} s; the replica it is pinned to will be killed`);
  const child = spawn(process.execPath, [clientSpec.script], {
    cwd: ROOT,
    env: { ...clientEnv, FAME_CLIENT_LOOP_SEC: String(seconds) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once("error", () => resolve(1));
  });
  // the client bounds its own loop; this bounds a client that hangs
  const guard = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);

  let pinned;
  let killedAt;
  let failoverSeen = false;
  let restarted;
  const tasks = [];
  const killPinned = async () => {
    const { pid, gone } = kill(pinned);
    killedAt = Date.now();
    say(
      pid
        ? `SIGKILL ${pinned.name} (pid ${pid}), the replica this channel is pinned to`
        : `${pinned.name} was not running`,
    );
    await gone;
  };
  const onLine = (line) => {
    out(`client | ${at().padStart(6)} ${line}`);
    const m = CALL.exec(line);
    if (!m) return;
    const replica = replicas.find((r) => r.name === m[2]);
    if (pinned === undefined && replica) {
      pinned = replica;
      say(`channel pinned to ${pinned.name}; killing it in 2 s`);
      tasks.push(
        new Promise((r) => setTimeout(r, 2000)).then(() =>
          child.exitCode === null ? killPinned() : undefined,
        ),
      );
    } else if (killedAt !== undefined && !failoverSeen && replica && replica !== pinned) {
      failoverSeen = true;
      say(
        `failover: calls continue on ${replica.name}, first answer ${Date.now() - killedAt} ms after the kill`,
      );
      say(`restarting ${pinned.name}`);
      const began = Date.now();
      tasks.push(
        Promise.all(tasks)
          .then(() => restart(pinned))
          .then(
            (pid) => {
              restarted = pid;
              say(
                `${pinned.name} is back (pid ${pid}, ready after ${Date.now() - began} ms); new channels may land on it`,
              );
            },
            (err) => say(`restart failed: ${err.message}`),
          ),
      );
    }
  };
  createInterface({ input: child.stdout }).on("line", onLine);
  createInterface({ input: child.stderr }).on("line", (l) => out(`client | ${at().padStart(6)} ${l}`));

  const code = await exited;
  clearTimeout(guard);
  await Promise.allSettled(tasks);
  if (pinned === undefined) say("the client made no call: is the fabric up? (make status)");
  else if (killedAt === undefined) say("the client finished before the kill: give it more time (--seconds)");
  else if (!failoverSeen) say("no call succeeded on another replica after the kill");
  if (pinned && killedAt !== undefined && restarted === undefined && !failoverSeen) {
    // leave the fabric as it was found
    await restart(pinned).then(
      (pid) => say(`${pinned.name} restarted (pid ${pid})`),
      (err) => say(`restart failed: ${err.message}`),
    );
  }
  return code === 0 && failoverSeen && restarted !== undefined ? 0 : 1;
}
