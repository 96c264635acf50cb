/**
 * The dashboard's HTML and stylesheet. The page holds no data and no inline script or style
 * (the Content-Security-Policy below forbids both): app.js fills it from the SSE stream,
 * writing node-supplied text with textContent only.
 */

export const DASHBOARD_PATH = "/dashboard";
/** the page's scripts and stylesheets, served from memory under this prefix */
export const DASHBOARD_ASSET_PREFIX = "/dashboard/";

/**
 * Scripts and styles from this origin only, fetch() to this origin only (the stream and the
 * drain call), no frames, no forms posting elsewhere, no base-URI games. The favicon is an
 * empty data: URL so the browser does not ask the sentinel for one.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>FAME sentinel</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script src="/dashboard/uPlot.iife.min.js" defer></script>
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>FAME sentinel <span id="sentinel-id"></span></h1>
  <span id="profile" class="tag"></span>
  <span id="conn" class="conn" data-state="connecting">connecting…</span>
</header>
<section id="auth" hidden>
  <form id="token-form">
    <label for="token">Admin token (FAME_SENTINEL_ADMIN_TOKEN; <code>make dashboard</code> prints a link carrying it)</label>
    <input id="token" type="password" autocomplete="off" spellcheck="false">
    <button type="submit">Use token</button>
  </form>
  <p id="auth-msg"></p>
</section>
<main>
  <section id="totals" aria-label="totals">
    <div><span class="k">calls/s</span><span id="t-calls" class="v">–</span></div>
    <div><span class="k">replicas</span><span id="t-replicas" class="v">–</span></div>
    <div><span class="k">pinned channels</span><span id="t-pins" class="v">–</span></div>
    <div><span class="k">sessions</span><span id="t-sessions" class="v">–</span></div>
    <div><span class="k">in flight</span><span id="t-inflight" class="v">–</span></div>
    <div><span class="k">connections</span><span id="t-connections" class="v">–</span></div>
  </section>
  <p id="pools-note" role="note" hidden></p>
  <section id="pools" aria-label="pools"></section>
  <p id="drain-msg" role="status"></p>
  <section class="charts">
    <figure><figcaption>calls/s per replica</figcaption><div id="chart-calls" class="chart"></div></figure>
    <figure><figcaption>refusals/s by code</figcaption><div id="chart-refusals" class="chart"></div></figure>
    <figure><figcaption>failovers/s (calls cut off by a departing replica; sessions and channels whose replica left, moved to another)</figcaption><div id="chart-failovers" class="chart"></div></figure>
  </section>
  <section aria-label="events">
    <h2>Replica events</h2>
    <ol id="events"></ol>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1d2430; --muted: #5b6577; --line: #d9dee7; --ok: #1a7f37;
  --warn: #9a6700; --bad: #cf222e; --bg: #f6f8fa; font-family: system-ui, sans-serif; }
body { margin: 0; color: var(--fg); background: #fff; }
header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1rem; border-bottom: 1px solid var(--line);
  background: var(--bg); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 1rem; margin: 1rem 0 .4rem; }
main { padding: 0 1rem 1rem; }
.tag { font-size: .8rem; padding: .1rem .4rem; border: 1px solid var(--line); border-radius: .3rem; }
.conn { margin-left: auto; font-size: .85rem; color: var(--muted); }
.conn[data-state="live"] { color: var(--ok); }
.conn[data-state="unauthorized"], .conn[data-state="error"] { color: var(--bad); }
#auth { padding: .8rem 1rem; background: #fff8c5; border-bottom: 1px solid var(--line); }
#auth input { width: 24rem; max-width: 90%; }
#totals { display: flex; flex-wrap: wrap; gap: 1.5rem; margin: 1rem 0; }
#totals div { display: flex; flex-direction: column; }
.k { font-size: .75rem; color: var(--muted); }
.v { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; margin-bottom: .8rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); font-size: .9rem; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-size: .8rem; padding: .05rem .4rem; border-radius: .3rem; border: 1px solid currentColor; }
.state[data-state="healthy"], .state[data-state="active"] { color: var(--ok); }
.state[data-state="draining"], .state[data-state="standby"] { color: var(--warn); }
.state[data-state="unhealthy"], .state[data-state="ejected"] { color: var(--bad); }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .85rem; color: var(--muted); }
.chart { width: 420px; min-height: 240px; }
#events { font-size: .85rem; color: var(--muted); max-height: 12rem; overflow: auto; }
#drain-msg { min-height: 1.2rem; font-size: .9rem; }
`;
