/**
 * The dashboard's files, read once at startup and served from memory: the page's own compiled
 * scripts (dist/dashboard/browser/*.js, built by tsc from src/dashboard/browser) and uPlot's
 * browser build and stylesheet, resolved from the installed `uplot` package. Nothing is
 * fetched from anywhere else, so the page works offline.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DASHBOARD_CSS } from "./dashboard-page.js";

export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
/** the page's module names as tsc emits them; nothing else in the folder is served */
const BROWSER_FILE = /^[a-z][a-z0-9-]*\.js$/;

function asset(body: Buffer | string, contentType: string): DashboardAsset {
  const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return {
    body: buf,
    contentType,
    etag: `"${createHash("sha256").update(buf).digest("base64url").slice(0, 22)}"`,
  };
}

/** where tsc puts the page's scripts: next to this module once built (dist/dashboard/browser) */
export function defaultBrowserDir(): string {
  return fileURLToPath(new URL("./browser/", import.meta.url));
}

export class DashboardAssets {
  readonly #files = new Map<string, DashboardAsset>();
  /** why the page cannot run, when its script was not built (undefined: complete) */
  readonly missing: string | undefined;

  private constructor(files: Map<string, DashboardAsset>, missing: string | undefined) {
    this.#files = files;
    this.missing = missing;
  }

  /** reads every file now; a missing page script is reported through `missing`, not thrown */
  static load(browserDir: string = defaultBrowserDir()): DashboardAssets {
    const files = new Map<string, DashboardAsset>();
    const require = createRequire(import.meta.url);
    // a sentinel without its chart library still routes frames: only the page is unavailable
    let noChart: string | undefined;
    try {
      files.set(
        "uPlot.iife.min.js",
        asset(readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js")), JS),
      );
      files.set("uPlot.min.css", asset(readFileSync(require.resolve("uplot/dist/uPlot.min.css")), CSS));
    } catch (err) {
      noChart = `the uplot package is not installed (${(err as Error).message.split("\n")[0]}): run make install`;
    }
    files.set("dashboard.css", asset(DASHBOARD_CSS, CSS));
    if (existsSync(browserDir)) {
      for (const name of readdirSync(browserDir)) {
        if (BROWSER_FILE.test(name)) files.set(name, asset(readFileSync(join(browserDir, name)), JS));
      }
    }
    const missing =
      noChart ??
      (files.has("app.js")
        ? undefined
        : `the dashboard's script was not built (no app.js in ${browserDir}): run make build`);
    return new DashboardAssets(files, missing);
  }

  get(name: string): DashboardAsset | undefined {
    return this.#files.get(name);
  }

  names(): string[] {
    return [...this.#files.keys()];
  }
}
