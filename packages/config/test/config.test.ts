import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  envWithYaml,
  loadYamlConfig,
  NODE_YAML_KEYS,
  parseYamlConfig,
  pick,
  readBool,
  readEnum,
  readInt,
  readPort,
  readUrl,
  SERVICE_YAML_KEYS,
  withoutTrailingSlash,
} from "@fame/config";
import { describe, expect, it } from "vitest";

const SENTINEL_YAML = `
node:
  type: Sentinel
  requested_logicals: ["fame.fabric"]
  listeners:
    - type: WebSocketListener
      port: "\${env:FAME_SENTINEL_PORT:8000}"
  security: { type: SecurityProfile, profile: "\${env:FAME_SECURITY_PROFILE:open}" }
  stickiness: { type: AFTLoadBalancerStickinessManager, security_level: strict }
`;

describe("YAML config", () => {
  it("interpolates env with defaults and camel-cases keys", () => {
    const tree = parseYamlConfig(SENTINEL_YAML, { FAME_SECURITY_PROFILE: "strict-overlay" });
    expect(pick(tree, "node.security.profile")).toBe("strict-overlay");
    expect(pick(tree, "node.listeners")).toEqual([{ type: "WebSocketListener", port: "8000" }]);
    expect(pick(tree, "node.stickiness.securityLevel")).toBe("strict");
    expect(pick(tree, "node.requestedLogicals")).toEqual(["fame.fabric"]);
  });

  it("refuses an unset variable with no default, naming the path", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the YAML interpolation syntax under test
    expect(() => parseYamlConfig("a:\n  b: ${env:FAME_NOPE_X}\n", {})).toThrow(/a\.b.*FAME_NOPE_X/);
  });

  it("keeps an empty default and colons inside defaults", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the YAML interpolation syntax under test
    const tree = parseYamlConfig('id: "${env:X:}"\nurl: "${env:U:https://h:1/p}"\n', {});
    expect(tree).toEqual({ id: "", url: "https://h:1/p" });
  });

  it("refuses both spellings of one key", () => {
    expect(() => parseYamlConfig("s:\n  security_level: strict\n  securityLevel: strict\n", {})).toThrow(
      ConfigError,
    );
  });

  it("refuses YAML that is not a mapping or not YAML", () => {
    expect(() => parseYamlConfig("- a\n- b\n", {})).toThrow(/mapping/);
    expect(() => parseYamlConfig("a: [1, 2\n", {})).toThrow(/not valid YAML/);
  });

  it("loads FAME_CONFIG, and treats a missing default file as empty", () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-config-"));
    const file = join(dir, "c.yml");
    writeFileSync(file, SENTINEL_YAML);
    expect(pick(loadYamlConfig({ FAME_CONFIG: file }).tree, "node.type")).toBe("Sentinel");
    expect(() => loadYamlConfig({ FAME_CONFIG: join(dir, "missing.yml") })).toThrow(/FAME_CONFIG/);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadYamlConfig({}).file).toBeUndefined();
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("setting readers", () => {
  it("name the setting on refusal", () => {
    expect(() => readInt("abc", "FAME_X")).toThrow(/FAME_X.*integer/);
    expect(() => readInt("5", "FAME_X", { max: 3 })).toThrow(/≤ 3/);
    expect(() => readEnum("loose", "stickiness.security_level", ["strict", "sid-only"])).toThrow(
      /stickiness\.security_level.*strict \| sid-only/,
    );
    expect(() => readUrl("not a url", "FAME_JWKS_URL")).toThrow(/FAME_JWKS_URL/);
    expect(() => readUrl("http://x", "FAME_JWKS_URL", { protocols: ["https:"] })).toThrow(/https:/);
    // issuers are compared as text: one trailing slash is dropped, nothing else
    expect(withoutTrailingSlash(readUrl("https://h:8443", "FAME_OAUTH2_ISSUER").href)).toBe("https://h:8443");
    expect(withoutTrailingSlash("https://h/path/")).toBe("https://h/path");
    expect(withoutTrailingSlash("https://h/path")).toBe("https://h/path");
    expect(() => readBool("maybe", "FAME_SHOW_ENVELOPES", false)).toThrow(/FAME_SHOW_ENVELOPES/);
    expect(() => readPort("70000", "FAME_SENTINEL_PORT", 8000)).toThrow(/FAME_SENTINEL_PORT/);
  });

  it("parse good values and defaults", () => {
    expect(readInt(undefined, "x", { fallback: 7 })).toBe(7);
    expect(readInt(" 42", "x")).toBe(42);
    expect(readBool("YES", "x", false)).toBe(true);
    expect(readEnum(undefined, "x", ["a", "b"], "b")).toBe("b");
    expect(readUrl("https://localhost:8443/x", "x").port).toBe("8443");
  });
});

describe("envWithYaml", () => {
  it("takes FAME_* defaults from the YAML env block; real env wins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-yaml-env-"));
    const file = join(dir, "svc.yml");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the YAML interpolation syntax under test
    writeFileSync(file, 'env:\n  FAME_OAUTH2_PORT: 9443\n  FAME_LOG_LEVEL: "${env:LVL:debug}"\n');
    const env = envWithYaml({ FAME_CONFIG: file, FAME_LOG_LEVEL: "warn" });
    expect(env["FAME_OAUTH2_PORT"]).toBe("9443");
    expect(env["FAME_LOG_LEVEL"]).toBe("warn");
    // names are kept as written, digits after underscores and all; other spellings map onto them
    writeFileSync(file, "env:\n  FAME_TLS_1_3: a\n  FAME_V2X_PORT: b\n  fame_log_level: c\n");
    const named = envWithYaml({ FAME_CONFIG: file });
    expect(named["FAME_TLS_1_3"]).toBe("a");
    expect(named["FAME_V2X_PORT"]).toBe("b");
    expect(named["FAME_LOG_LEVEL"]).toBe("c");
    writeFileSync(file, "env:\n  NOT_FAME: 1\n");
    expect(() => envWithYaml({ FAME_CONFIG: file })).toThrow(/FAME_\* variable/);
    writeFileSync(file, "env: [1]\n");
    expect(() => envWithYaml({ FAME_CONFIG: file })).toThrow(/mapping/);
  });

  it("refuses a key the process does not read, naming it: a typo must not drop its block", () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-yaml-keys-"));
    const file = join(dir, "svc.yml");
    writeFileSync(file, "evn:\n  FAME_OAUTH2_PORT: 9443\n");
    expect(() => envWithYaml({ FAME_CONFIG: file }, SERVICE_YAML_KEYS)).toThrow(
      /^invalid setting evn: unknown key \(known here: env\)/,
    );
    // without the list (a caller that reads more of the file itself) the block is just not used
    expect(envWithYaml({ FAME_CONFIG: file })["FAME_OAUTH2_PORT"]).toBeUndefined();
    writeFileSync(file, "node:\n  type: Node\n  requested_logical: [a]\n");
    expect(() => envWithYaml({ FAME_CONFIG: file }, NODE_YAML_KEYS)).toThrow(
      /^invalid setting node\.requested_logical: unknown key/,
    );
    writeFileSync(file, "node:\n  security: { type: SecurityProfile, profil: open }\n");
    expect(() => envWithYaml({ FAME_CONFIG: file }, NODE_YAML_KEYS)).toThrow(/node\.security\.profil/);
  });
});
