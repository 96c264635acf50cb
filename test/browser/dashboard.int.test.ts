import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson, requestRaw } from "@fame/http-service/client";
import { type FabricStack, REPO_ROOT, startFabricStack } from "@fame/testkit";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemIdOf } from "../integration/affinity-helpers.js";
import { TestClients, tearDown } from "../support/fabric-clients.js";
import { chromiumPath, launchChromium } from "./chromium.js";
import { getOnce, nonLoopbackIPv4 } from "./remote-request.js";

/**
 * Issue 18: the sentinel's dashboard in a real headless Chromium (Debian's package, driven by
 * playwright-core) over a real fabric: both replicas and their calls show, a SIGKILLed replica
 * disappears while the other takes the calls, a replica is drained from the page's button, and
 * the page's data needs the admin token from a non-loopback address.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
}

/** the DOM the page functions below use, run in Chromium (the test program has no DOM types) */
interface DomElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  textContent: string | null;
}
declare const document: {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement> & { length: number };
};

const STREAM = "/fame/v1/dashboard/stream";
const SCREENSHOT = join(REPO_ROOT, "run", "dashboard.png");

let stack: FabricStack;
let browser: Browser;
const clients = new TestClients(() => stack);
const token = () => stack.adminHeaders["authorization"]!.slice("Bearer ".length);
const port = () => Number(new URL(stack.urls.sentinel).port);

/** replica ids shown in the page's pool table for math@fame.fabric, with their calls/s */
async function shownReplicas(page: Page): Promise<{ id: string; calls: number; state: string }[]> {
  return page.$$eval('table[data-pool="math@fame.fabric"] tr[data-replica]', (rows) =>
    rows.map((r) => ({
      id: r.getAttribute("data-replica") ?? "",
      calls: Number(r.querySelector('[data-col="calls"]')?.getAttribute("data-value") ?? "0"),
      state: r.getAttribute("data-state") ?? "",
    })),
  );
}

async function openDashboard(origin: string, withToken: boolean): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  await page.goto(`${origin}/dashboard${withToken ? `#token=${encodeURIComponent(token())}` : ""}`);
  return page;
}

beforeAll(async () => {
  // fails (not skips) without Chromium, saying how to install it
  chromiumPath();
  // bound on every address, so the non-loopback test can reach it through this machine's own IP
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { FAME_SENTINEL_HOST: "0.0.0.0" },
    // browsers accept no Ed25519 certificate (make pki issues a P-256 one too)
    tlsKeyAlgorithm: "ECDSA-P256",
  });
  browser = await launchChromium({
    trustCertificatePem: readFileSync(join(stack.dir, "server.pem"), "utf8"),
  });
  await stack.startReplica("replicaA");
  await stack.startReplica("replicaB");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await tearDown(stack, clients);
});

describe("the sentinel's dashboard in headless Chromium", () => {
  it("shows both replicas and live calls, then a SIGKILLed replica leaving and the other taking the calls", async () => {
    // a few clients, each with its own channel: round robin pins them to both replicas
    const apis: MathApi[] = [];
    for (let i = 0; i < 4; i++)
      apis.push((await clients.remote<MathApi>("math@fame.fabric", { idempotent: ["add"] })).api);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loops = apis.map(async (math) => {
      for (let i = 0; i < 1_000_000 && !stop; i++) {
        try {
          if ((await math.add({ x: i, y: 1 })) === i + 1) ok++;
          else failures.push(`add(${i}, 1) wrong`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    try {
      const page = await openDashboard(stack.urls.sentinel, true);
      // the token left the address bar at once
      expect(page.url()).not.toContain("token");
      const a = stack.replicas.get("replicaA")!;
      const b = stack.replicas.get("replicaB")!;
      const [idA, idB] = [systemIdOf(a), systemIdOf(b)];

      await page.waitForFunction(
        ([x, y]) => {
          const calls = (id: string) =>
            Number(
              document
                .querySelector(`tr[data-replica="${id}"] [data-col="calls"]`)
                ?.getAttribute("data-value") ?? "0",
            );
          return calls(x!) > 0 && calls(y!) > 0;
        },
        [idA, idB],
        { timeout: 30_000, polling: 200 },
      );
      expect((await shownReplicas(page)).map((r) => r.id).sort()).toEqual([idA, idB].sort());
      // the names the replicas gave at attach (FAME_REPLICA_NAME), as text
      expect(await page.locator(`tr[data-replica="${idA}"] [data-col="name"]`).textContent()).toBe(
        "replicaA",
      );
      expect(await page.locator(`tr[data-replica="${idB}"] [data-col="name"]`).textContent()).toBe(
        "replicaB",
      );
      await expect.poll(() => page.locator("#conn").getAttribute("data-state")).toBe("live");
      await expect.poll(() => page.locator("#t-pins").textContent()).not.toBe("0");

      a.child.kill("SIGKILL");
      await a.exited;
      // A leaves the table and the event list; B carries every call
      await page.waitForFunction(
        ([x, y]) => {
          const row = document.querySelector(`tr[data-replica="${x}"]`);
          const left = [...document.querySelectorAll('#events li[data-kind="left"]')].some((li) =>
            li.textContent?.includes(x!),
          );
          const callsB = Number(
            document
              .querySelector(`tr[data-replica="${y}"] [data-col="calls"]`)
              ?.getAttribute("data-value") ?? "0",
          );
          return row === null && left && callsB > 0;
        },
        [idA, idB],
        { timeout: 30_000, polling: 200 },
      );
      expect((await shownReplicas(page)).map((r) => r.id)).toEqual([idB]);
      const before = ok;
      await expect.poll(() => ok, { timeout: 15_000 }).toBeGreaterThan(before + 20);

      mkdirSync(join(REPO_ROOT, "run"), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      await page.context().close();
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    // idempotent calls in flight on A were retried on B: none failed
    expect(failures).toEqual([]);
  }, 120_000);

  it("drains a replica from the page's button with the admin token, and resumes it", async () => {
    const a = await stack.startReplica("replicaA");
    const idA = systemIdOf(a);
    const page = await openDashboard(stack.urls.sentinel, true);
    await page.waitForFunction((x) => document.querySelector(`tr[data-replica="${x}"]`) !== null, idA, {
      timeout: 30_000,
      polling: 200,
    });
    page.once("dialog", (d) => void d.accept());
    await page.click(`button[data-drain="${idA}"]`);
    await expect
      .poll(() => page.locator("#drain-msg").textContent(), { timeout: 10_000 })
      .toContain("is draining");
    await page.waitForFunction(
      (x) => document.querySelector(`tr[data-replica="${x}"]`)?.getAttribute("data-state") === "draining",
      idA,
      { timeout: 15_000, polling: 200 },
    );
    const button = page.locator(`button[data-drain="${idA}"]`);
    expect(await button.textContent()).toBe("Resume");
    const draining = async () =>
      (
        await requestJson<{ nodes: { systemId: string; draining: boolean }[] }>(
          `${stack.urls.sentinel}/fame/v1/status`,
          { ca: stack.trustBundle, headers: stack.adminHeaders },
        )
      ).nodes.find((n) => n.systemId === idA)?.draining;
    expect(await draining()).toBe(true);
    // the same button now takes it out of the drain
    page.once("dialog", (d) => void d.accept());
    await button.click();
    await expect
      .poll(() => page.locator("#drain-msg").textContent(), { timeout: 10_000 })
      .toContain("takes new work again");
    await page.waitForFunction(
      (x) => document.querySelector(`tr[data-replica="${x}"]`)?.getAttribute("data-state") !== "draining",
      idA,
      { timeout: 15_000, polling: 200 },
    );
    expect(await button.textContent()).toBe("Drain");
    expect(await draining()).toBe(false);
    await page.context().close();
  }, 90_000);

  it("the page itself is public, but its stream needs the token on loopback too (strict profile)", async () => {
    const page = await getOnce("127.0.0.1", port(), "/dashboard", stack.trustBundle);
    expect(page.status).toBe(200);
    const noToken = await getOnce("127.0.0.1", port(), STREAM, stack.trustBundle);
    expect(noToken.status).toBe(401);
    const wrong = await getOnce("127.0.0.1", port(), STREAM, stack.trustBundle, {
      authorization: "Bearer not-the-token",
    });
    expect(wrong.status).toBe(401);
  });

  it("the sentinel's /metrics has the route-time histogram, with the frames of the calls above", async () => {
    const res = await requestRaw(`${stack.urls.sentinel}/metrics`, {
      ca: stack.trustBundle,
      headers: stack.adminHeaders,
    });
    expect(res.status).toBe(200);
    const text = res.body.toString("utf8");
    expect(text).toContain("# TYPE fame_sentinel_route_seconds histogram");
    const count = Number(/^fame_sentinel_route_seconds_count (\d+)$/m.exec(text)?.[1]);
    // thousands of frames were routed above; about 1 in 16 is timed
    expect(count).toBeGreaterThan(10);
    expect(text).toMatch(new RegExp(`^fame_sentinel_route_seconds_bucket\\{le="\\+Inf"\\} ${count}$`, "m"));
    const sum = Number(/^fame_sentinel_route_seconds_sum (\S+)$/m.exec(text)?.[1]);
    expect(sum / count).toBeGreaterThan(0);
    expect(sum / count).toBeLessThan(0.1);
  });

  const ip = nonLoopbackIPv4();
  (ip ? it : it.skip)(
    ip
      ? `from a non-loopback address (${ip}) the data needs the token, and the page asks for it`
      : "from a non-loopback address: skipped, this machine has no non-loopback IPv4 address",
    async () => {
      const host = ip!;
      const refused = await getOnce(host, port(), STREAM, stack.trustBundle);
      expect(refused.status).toBe(401);
      const allowed = await getOnce(host, port(), STREAM, stack.trustBundle, stack.adminHeaders);
      expect(allowed.status).toBe(200);
      expect(allowed.firstChunk).toMatch(/^event: hello\n/);

      const page = await openDashboard(`https://${host}:${port()}`, false);
      await expect
        .poll(() => page.locator("#conn").getAttribute("data-state"), { timeout: 15_000 })
        .toBe("unauthorized");
      expect(await page.locator("#auth").isVisible()).toBe(true);
      expect(await page.locator("tr[data-replica]").count()).toBe(0);
      // the token typed into the page's form opens the stream
      await page.fill("#token", token());
      await page.click('#token-form button[type="submit"]');
      await expect
        .poll(() => page.locator("#conn").getAttribute("data-state"), { timeout: 15_000 })
        .toBe("live");
      await page.waitForFunction(() => document.querySelectorAll("tr[data-replica]").length > 0, undefined, {
        timeout: 15_000,
        polling: 200,
      });
      await page.context().close();
    },
    60_000,
  );
});
