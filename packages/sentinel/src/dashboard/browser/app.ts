/**
 * The sentinel's live dashboard. The admin token comes from the address fragment
 * (`#token=…`, which browsers never send to the server) or the form, and is kept in
 * sessionStorage; the fragment is removed from the address bar at once. Everything a node
 * supplied (ids, paths, addresses, codes) is written with textContent, never as markup.
 */
import { SeriesChart } from "./charts.js";
import { type StreamStatus, watch } from "./stream.js";
import type { WireEvent, WireHello, WirePool, WireReplica, WireSample, WireState, WireTick } from "./wire.js";

const TOKEN_KEY = "fame.dashboard.token";
/** samples kept for the charts (the server keeps as many) */
const WINDOW = 300;
const MAX_EVENTS = 100;

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`dashboard page has no #${id}`);
  return el;
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function takeTokenFromFragment(): void {
  const m = /^#token=([^&]*)/.exec(location.hash);
  if (m === null) return;
  const token = decodeURIComponent(m[1] ?? "");
  if (token !== "") sessionStorage.setItem(TOKEN_KEY, token);
  // out of the address bar (and so out of history, bookmarks and screenshots)
  history.replaceState(null, "", location.pathname + location.search);
}

const token = (): string | null => sessionStorage.getItem(TOKEN_KEY);

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function replicaState(r: WireReplica): string {
  if (r.draining) return "draining";
  if (r.ejected) return "ejected";
  if (!r.healthy) return "unhealthy";
  if (r.active === true) return "active";
  if (r.active === false) return "standby";
  return "healthy";
}

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<"name" | "path" | "state" | "calls" | "pins" | "sessions" | "inflight", HTMLElement>;
  drain: HTMLButtonElement;
}

/** The pools section, updated in place (keyed by pool and replica) so a click is never lost. */
class PoolsView {
  private readonly tables = new Map<
    string,
    { section: HTMLElement; caption: HTMLElement; tbody: HTMLElement }
  >();
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly root: HTMLElement,
    private readonly onDrain: (id: string, resume: boolean) => void,
  ) {}

  render(pools: WirePool[]): void {
    const seenPools = new Set<string>();
    const seenRows = new Set<string>();
    for (const pool of pools) {
      seenPools.add(pool.address);
      const table = this.table(pool.address);
      const policy = [pool.binding, pool.mode, pool.affinity && `affinity ${pool.affinity}`].filter(Boolean);
      table.caption.textContent =
        `${pool.address} · ${policy.join(", ")} · ` +
        (pool.truncated
          ? `${pool.replicas.length} of ${pool.members} replicas shown`
          : `${pool.replicas.length} replica(s)`) +
        (pool.sessions > 0 ? ` · ${pool.sessions} session(s)` : "");
      for (const r of pool.replicas) {
        const key = `${pool.address} ${r.id}`;
        seenRows.add(key);
        const row = this.row(key, r.id, table.tbody);
        const state = replicaState(r);
        row.tr.dataset["state"] = state;
        row.cells.name.textContent = r.name ?? "";
        row.cells.path.textContent = r.path ?? "";
        row.cells.state.textContent = "";
        row.cells.state.append(el("span", state, { class: "state", "data-state": state }));
        row.cells.calls.textContent = fmt(r.callsPerSec);
        row.cells.calls.dataset["value"] = String(r.callsPerSec);
        row.cells.pins.textContent = String(r.pins);
        row.cells.sessions.textContent = String(r.sessions);
        row.cells.inflight.textContent = String(r.inflight);
        // a draining replica's button resumes it (the sentinel refuses one that drains itself)
        row.drain.textContent = r.draining ? "Resume" : "Drain";
        row.drain.dataset["action"] = r.draining ? "resume" : "drain";
      }
    }
    for (const [key, row] of this.rows)
      if (!seenRows.has(key)) {
        row.tr.remove();
        this.rows.delete(key);
      }
    for (const [address, t] of this.tables)
      if (!seenPools.has(address)) {
        t.section.remove();
        this.tables.delete(address);
      }
    if (pools.length === 0 && this.root.childElementCount === 0)
      this.root.append(el("p", "No pools bound yet.", { class: "k", id: "no-pools" }));
    else if (pools.length > 0) document.getElementById("no-pools")?.remove();
  }

  private table(address: string) {
    let t = this.tables.get(address);
    if (t === undefined) {
      const section = el("table", undefined, { "data-pool": address });
      const caption = el("caption");
      const head = el("tr");
      for (const h of ["replica", "name", "path", "state", "calls/s", "pins", "sessions", "in flight", ""])
        head.append(el("th", h));
      const tbody = el("tbody");
      section.append(caption, el("thead"), tbody);
      section.tHead?.append(head);
      this.root.append(section);
      t = { section, caption, tbody };
      this.tables.set(address, t);
    }
    return t;
  }

  private row(key: string, id: string, tbody: HTMLElement): Row {
    let row = this.rows.get(key);
    if (row === undefined) {
      const tr = el("tr", undefined, { "data-replica": id });
      const td = (col: string, numeric = false) =>
        el("td", undefined, { "data-col": col, ...(numeric ? { class: "n" } : {}) });
      const cells = {
        name: td("name"),
        path: td("path"),
        state: td("state"),
        calls: td("calls", true),
        pins: td("pins", true),
        sessions: td("sessions", true),
        inflight: td("inflight", true),
      };
      const drain = el("button", "Drain", { type: "button", "data-drain": id, "data-action": "drain" });
      drain.addEventListener("click", () => this.onDrain(id, drain.dataset["action"] === "resume"));
      const action = el("td");
      action.append(drain);
      tr.append(
        el("td", id, { "data-col": "id" }),
        cells.name,
        cells.path,
        cells.state,
        cells.calls,
        cells.pins,
        cells.sessions,
        cells.inflight,
        action,
      );
      tbody.append(tr);
      row = { tr, cells, drain };
      this.rows.set(key, row);
    }
    return row;
  }
}

class Dashboard {
  private samples: WireSample[] = [];
  /** replica id → attach name, remembered after a replica left so its series keeps its label */
  private readonly names = new Map<string, string>();
  private readonly pools = new PoolsView($("pools"), (id, resume) => void this.drain(id, resume));
  private readonly calls = new SeriesChart($("chart-calls"), "calls/s");
  private readonly refusals = new SeriesChart($("chart-refusals"), "refusals/s");
  private readonly failovers = new SeriesChart($("chart-failovers"), "events/s");
  private controller: AbortController | undefined;

  start(): void {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    void watch(
      token(),
      {
        hello: (h) => this.hello(h),
        tick: (t) => this.tick(t),
        status: (s) => this.status(s),
      },
      controller.signal,
    );
  }

  private hello(h: WireHello): void {
    this.samples = h.history.slice(-WINDOW);
    $("events").replaceChildren();
    for (const e of h.events) this.event(e);
    if (h.state) this.state(h.state);
    // the totals from the newest sample at once, not a second later with the first tick
    const last = this.samples[this.samples.length - 1];
    if (last) this.totals(last);
    this.charts();
  }

  private tick(t: WireTick): void {
    this.samples.push(t.sample);
    if (this.samples.length > WINDOW) this.samples.splice(0, this.samples.length - WINDOW);
    for (const e of t.events) this.event(e);
    if (t.state) this.state(t.state);
    this.totals(t.sample);
    this.charts();
  }

  private totals(last: WireSample): void {
    $("t-calls").textContent = fmt(sum(last.calls));
    $("t-pins").textContent = String(last.pins);
    $("t-sessions").textContent = String(last.sessions);
  }

  private state(s: WireState): void {
    $("sentinel-id").textContent = s.sentinelId;
    $("profile").textContent = s.securityProfile;
    $("t-inflight").textContent = String(s.inflight);
    $("t-connections").textContent = String(s.connections);
    $("t-replicas").textContent = String(s.pools.reduce((n, p) => n + p.replicas.length, 0));
    for (const p of s.pools) for (const r of p.replicas) if (r.name) this.names.set(r.id, r.name);
    if (this.names.size > 1000) this.names.clear();
    this.pools.render(s.pools);
    const note = $("pools-note");
    note.hidden = !s.truncated;
    note.textContent = s.truncated
      ? `${s.pools.length} of ${s.poolCount} pools shown: the configured ones, then the busiest (fame status lists more)`
      : "";
  }

  private event(e: WireEvent): void {
    const list = $("events");
    const when = new Date(e.t * 1000).toLocaleTimeString();
    if (e.name) this.names.set(e.replica, e.name);
    list.prepend(
      el("li", `${when} ${e.pool}: replica ${this.label(e.replica)} ${e.kind}`, { "data-kind": e.kind }),
    );
    while (list.childElementCount > MAX_EVENTS) list.lastElementChild?.remove();
  }

  private label(id: string): string {
    const name = this.names.get(id);
    return name ? `${name} (${id})` : id;
  }

  private charts(): void {
    const x = this.samples.map((s) => s.t);
    const column = (pick: (s: WireSample) => Record<string, number>, names: Set<string>) => {
      const m = new Map<string, (number | null)[]>();
      for (const n of [...names].sort())
        m.set(
          n,
          this.samples.map((s) => pick(s)[n] ?? null),
        );
      return m;
    };
    const replicas = new Set(this.samples.flatMap((s) => Object.keys(s.calls)));
    const calls = new Map<string, (number | null)[]>();
    // samples leave idle replicas out: a gap in a series is 0 calls/s
    for (const [id, v] of column((s) => s.calls, replicas))
      calls.set(
        this.label(id),
        v.map((n) => n ?? 0),
      );
    this.calls.update(x, calls);
    const codes = new Set(this.samples.flatMap((s) => Object.keys(s.refusals)));
    const refusals = new Map<string, (number | null)[]>([
      ["all codes", this.samples.map((s) => sum(s.refusals))],
    ]);
    for (const [k, v] of column((s) => s.refusals, codes))
      refusals.set(
        k,
        v.map((n) => n ?? 0),
      );
    this.refusals.update(x, refusals);
    this.failovers.update(
      x,
      new Map([
        ["calls failed over", this.samples.map((s) => s.failovers.replicaUnavailable)],
        ["sessions moved", this.samples.map((s) => s.failovers.sessionsMoved)],
        ["channels moved", this.samples.map((s) => s.failovers.channelsMoved)],
      ]),
    );
  }

  private status(s: StreamStatus): void {
    const conn = $("conn");
    conn.dataset["state"] = s.state;
    const auth = $("auth");
    if (s.state === "live") {
      conn.textContent = "live";
      auth.hidden = true;
    } else if (s.state === "unauthorized") {
      conn.textContent = "admin token needed";
      $("auth-msg").textContent = s.message;
      auth.hidden = false;
    } else if (s.state === "error") {
      conn.textContent = `disconnected (${s.message}); retrying in ${Math.round(s.retryInMs / 1000)} s`;
    } else {
      conn.textContent = "connecting…";
    }
  }

  private async drain(id: string, resume: boolean): Promise<void> {
    const msg = $("drain-msg");
    const what = resume ? "Resume" : "Drain";
    const t = token();
    if (t === null) {
      $("auth").hidden = false;
      msg.textContent = `${resume ? "Resuming" : "Draining"} needs the admin token.`;
      return;
    }
    const question = resume
      ? `Resume replica ${this.label(id)}? It takes new sessions and channels again.`
      : `Drain replica ${this.label(id)}? It takes no new sessions or channels.`;
    if (!confirm(question)) return;
    const res = await fetch(`/fame/v1/nodes/${encodeURIComponent(id)}/${resume ? "resume" : "drain"}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t}` },
      cache: "no-store",
    }).catch((err: unknown) => err as Error);
    if (res instanceof Error) msg.textContent = `${what} of ${id} failed: ${res.message}`;
    else if (res.ok)
      msg.textContent = resume ? `Replica ${id} takes new work again.` : `Replica ${id} is draining.`;
    else {
      const body = (await res.json().catch(() => ({}))) as { error_description?: unknown };
      const why = typeof body.error_description === "string" ? body.error_description : `HTTP ${res.status}`;
      msg.textContent = `${what} of ${id} refused: ${why}`;
    }
    msg.dataset["result"] = res instanceof Error ? "error" : String(res.status);
  }
}

function sum(r: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(r)) n += v;
  return n;
}

takeTokenFromFragment();
const dashboard = new Dashboard();
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("token") as HTMLInputElement;
  if (input.value.trim() !== "") sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  dashboard.start();
});
dashboard.start();
