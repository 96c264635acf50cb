import { describe, expect, it } from "vitest";
import { trustProblem, withTrustHint } from "../src/trust-problem.js";

describe("trustProblem", () => {
  it("names FAME_CA_CERTS for the ways node says a server certificate was refused", () => {
    for (const message of [
      "unable to verify the first certificate",
      "unable to get local issuer certificate",
      "self-signed certificate in certificate chain",
      "certificate has expired",
      "Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    ])
      expect(trustProblem(message)).toMatch(/FAME_CA_CERTS/);
  });

  it("says nothing of other failures (a service that is down needs another hint)", () => {
    for (const message of [
      "connect ECONNREFUSED 127.0.0.1:8000",
      "socket hang up",
      "Unexpected server response: 503",
    ])
      expect(trustProblem(message)).toBeUndefined();
  });

  it("withTrustHint adds the hint once, and leaves other messages alone", () => {
    const once = withTrustHint("wss://h: unable to verify the first certificate");
    expect(once).toMatch(/^wss:\/\/h: unable to verify the first certificate \(.*FAME_CA_CERTS/);
    expect(withTrustHint(once)).toBe(once);
    expect(withTrustHint(`admission: ${once}`)).toBe(`admission: ${once}`);
    expect(withTrustHint("socket hang up")).toBe("socket hang up");
  });
});
