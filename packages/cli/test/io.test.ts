import { describe, expect, it } from "vitest";
import { invocationDir } from "../src/io.js";

describe("invocationDir", () => {
  it("takes INIT_CWD when a package manager ran the bin from a root above the user's directory", () => {
    expect(invocationDir("/repo/services/math", "/repo")).toBe("/repo/services/math");
    expect(invocationDir("/repo", "/repo")).toBe("/repo");
  });

  it("ignores an INIT_CWD inherited from a script elsewhere (outside the process's cwd)", () => {
    expect(invocationDir("/work/main", "/tmp/fame-cli-it/ws")).toBe("/tmp/fame-cli-it/ws");
    expect(invocationDir("/repo-other", "/repo")).toBe("/repo");
  });

  it("uses the process's cwd when INIT_CWD is unset or empty", () => {
    expect(invocationDir(undefined, "/x")).toBe("/x");
    expect(invocationDir("", "/x")).toBe("/x");
  });
});
