import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

/** `make logs` (scripts/fabric/log-view.mjs), which prints what other processes logged */
interface LogView {
  formatLine(line: string): string;
  terminalSafe(text: string): string;
}

const file = fileURLToPath(new URL("../../scripts/fabric/log-view.mjs", import.meta.url));
const view = (await import(pathToFileURL(file).href)) as LogView;

describe("make logs", () => {
  it("never hands a log field's control characters to the operator's terminal", () => {
    // audit round 9: a refused OAuth2 parameter's name, a health check's error message
    const line = JSON.stringify({
      level: 40,
      time: "2026-12-06T03:00:00.000Z",
      msg: "token request refused",
      reason: "\u001b]0;owned\u0007\u001b[2J\u001b[32mFAKE all replicas healthy\nsecond line\u202e",
    });
    const shown = view.terminalSafe(view.formatLine(line));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(shown).toContain("\\u001b]0;owned\\u0007");
    expect(shown).toContain("\\u000asecond line");
    // a line that is not JSON is shown as the process printed it, made safe the same way
    expect(view.terminalSafe("plain \u001b[2J text")).toBe("plain \\u001b[2J text");
  });
});
