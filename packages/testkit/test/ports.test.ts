import { createServer } from "node:net";
import { freePorts } from "@fame/testkit";
import { describe, expect, it } from "vitest";

describe("freePorts", () => {
  it("hands out distinct ports that are free again once it returns", async () => {
    const ports = await freePorts(4);
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(port, "127.0.0.1", resolve);
      });
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
