import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseYamlConfig } from "@fame/config";
import { parseAccessPolicy } from "@fame/identity";
import { afterAll, describe, expect, it } from "vitest";
import { NodeSession } from "../src/node-session.js";
import { accessPolicyFromConfig } from "../src/policy/load-policy.js";
import { YamlAccessPolicy } from "../src/policy/yaml-access-policy.js";
import { FakeLink } from "./fake-link.js";

const YAML = `
policy:
  type: AccessPolicy
  reserved_logicals: [fame.fabric]
  serve:
    - principals: [agent]
      logicals: ["*.fame.fabric"]
    - principals: [billing-*]
      logicals: [billing.example.org]
  call:
    - principals: ["*"]
      addresses: ["math@fame.fabric"]
    - principals: [agent]
      addresses: ["*@*.fame.fabric"]
`;

function doc(text = YAML) {
  const tree = parseYamlConfig(text, {});
  return parseAccessPolicy(tree["policy"], "policy");
}

function node(principal: string, logicals: string[]): NodeSession {
  const s = new NodeSession("c", new FakeLink(), 0);
  s.principal = principal;
  s.acceptedLogicals = logicals;
  return s;
}

describe("YamlAccessPolicy", () => {
  const policy = new YamlAccessPolicy(doc());

  it("lets a pool grant serve pooled binds at and below its base", () => {
    const agent = node("agent", ["*.fame.fabric"]);
    expect(policy.mayServe(agent, "math@fame.fabric")).toBe(true);
    expect(policy.mayServe(agent, "x@team.fame.fabric")).toBe(true);
    expect(policy.mayServe(agent, "x@evil.net")).toBe(false);
  });

  it("refuses every bind to a principal without a serve grant (a client joins no pool)", () => {
    const client = node("client", ["*.fame.fabric"]);
    expect(policy.mayServe(client, "math@fame.fabric")).toBe(false);
    expect(policy.mayServe(node("client", []), "math@fame.fabric")).toBe(false);
  });

  it("needs an exact grant for an exclusive bind, never of a reserved logical", () => {
    expect(policy.mayServe(node("billing-1", ["billing.example.org"]), "pay@billing.example.org")).toBe(true);
    // an exact ticket grant under the agents' pool grant: exclusive squat refused
    expect(policy.mayServe(node("agent", ["fame.fabric"]), "math@fame.fabric")).toBe(false);
    const reserved = new YamlAccessPolicy(doc(), { reservedLogicals: ["billing.example.org"] });
    expect(reserved.mayServe(node("billing-1", ["billing.example.org"]), "pay@billing.example.org")).toBe(
      false,
    );
  });

  it("answers calls by exact address and by pattern, the same answer from its cache", () => {
    const client = node("client", []);
    const agent = node("agent", []);
    for (let i = 0; i < 3; i++) {
      expect(policy.mayCall(client, "math@fame.fabric")).toBe(true);
      expect(policy.mayCall(client, "admin@fame.fabric")).toBe(false);
      expect(policy.mayCall(agent, "admin@fame.fabric")).toBe(true);
      expect(policy.mayCall(agent, "admin@evil.net")).toBe(false);
      expect(policy.mayCall(agent, "rpc@/sentinel0/x")).toBe(false);
    }
  });

  it("keeps its caches bounded", () => {
    const small = new YamlAccessPolicy(doc(), { maxCachedCalls: 4, maxPrincipals: 2 });
    const agent = node("agent", []);
    for (let i = 0; i < 100; i++) expect(small.mayCall(agent, `n${i}@fame.fabric`)).toBe(true);
    for (let i = 0; i < 10; i++) expect(small.mayCall(node(`p${i}`, []), "math@fame.fabric")).toBe(true);
  });
});

describe("policy document", () => {
  const bad = (text: string) => () => doc(text);
  it.each([
    [
      "an exact grant of a reserved logical",
      "policy:\n  serve:\n    - principals: [a]\n      logicals: [fame.fabric]\n",
    ],
    [
      "an exclusive grant under a pool grant",
      'policy:\n  serve:\n    - principals: [a]\n      logicals: ["*.fame.fabric"]\n    - principals: [b]\n      logicals: [x.fame.fabric]\n',
    ],
    ["an unknown key", "policy:\n  serve: []\n  allow: []\n"],
    ["a bad address pattern", "policy:\n  call:\n    - principals: [a]\n      addresses: [math]\n"],
    ["an empty principal list", "policy:\n  call:\n    - principals: []\n      addresses: [a@b.c]\n"],
    ["a wrong type", "policy:\n  type: Other\n"],
  ])("refuses %s with a ConfigError", (_what, text) => {
    expect(bad(text)).toThrow(ConfigError);
  });
});

describe("loading the policy", () => {
  const dir = mkdtempSync(join(tmpdir(), "fame-policy-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads FAME_POLICY_FILE, reserves the sentinel's own logicals, and is undefined without one", () => {
    const file = join(dir, "p.yml");
    writeFileSync(file, YAML);
    const loaded = accessPolicyFromConfig(
      { FAME_POLICY_FILE: file },
      { node: { requestedLogicals: ["own.example"] } },
    );
    expect(loaded?.reservedLogicals).toEqual(["fame.fabric", "own.example"]);
    expect(accessPolicyFromConfig({}, {})).toBeUndefined();
  });

  it("names the problem of a malformed or missing file", () => {
    const file = join(dir, "bad.yml");
    writeFileSync(file, "policy:\n  serve: nope\n");
    expect(() => accessPolicyFromConfig({ FAME_POLICY_FILE: file }, {})).toThrow(/policy.serve/);
    expect(() => accessPolicyFromConfig({ FAME_POLICY_FILE: join(dir, "none.yml") }, {})).toThrow(
      /FAME_POLICY_FILE/,
    );
  });
});
