import { ConfigError, pick, readString } from "@fame/config";
import {
  type AccessPolicyDocument,
  isDnsLogical,
  loadAccessPolicyFile,
  parseAccessPolicy,
} from "@fame/identity";

/**
 * The sentinel's access policy: the file FAME_POLICY_FILE names (the one Welcome reads too), or a
 * `policy:` block in the sentinel's own YAML; undefined when neither is given (everyone may serve
 * what Welcome granted and call anything). The sentinel's own logicals (`node.requested_logicals`)
 * join the reserved ones: no principal may be granted them exactly. Defects are ConfigErrors (exit 2).
 */
export function accessPolicyFromConfig(
  env: NodeJS.ProcessEnv,
  tree: Record<string, unknown>,
): AccessPolicyDocument | undefined {
  const file = readString(env["FAME_POLICY_FILE"], "FAME_POLICY_FILE", "").trim();
  const inline = pick(tree, "policy");
  let doc: AccessPolicyDocument;
  if (file !== "") doc = loadAccessPolicyFile(file, "FAME_POLICY_FILE", env);
  else if (inline !== undefined) doc = parseAccessPolicy(inline, "policy", "FAME_CONFIG policy");
  else return undefined;
  const own = pick(tree, "node.requestedLogicals");
  const ownLogicals = Array.isArray(own) ? own.filter((l): l is string => isDnsLogical(l)) : [];
  for (const logical of ownLogicals) {
    const rule = doc.serve.findIndex((r) => r.logicals.includes(logical));
    if (rule >= 0) {
      throw new ConfigError(
        `policy.serve[${rule}].logicals`,
        `${logical} is the sentinel's own logical (node.requested_logicals): never granted`,
      );
    }
    if (!doc.reservedLogicals.includes(logical)) doc.reservedLogicals.push(logical);
  }
  return doc;
}
