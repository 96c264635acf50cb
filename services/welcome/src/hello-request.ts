import { CAPABILITY_PATTERN, isSystemId, isTokenId, TOKEN_LIMITS } from "@fame/identity";
import { quotedName } from "@fame/logger";

export interface HelloRequest {
  instanceId: string;
  requestedLogicals: string[];
  capabilities: string[];
  systemId?: string;
}

const ALLOWED_KEYS = new Set(["instanceId", "requestedLogicals", "capabilities", "systemId"]);

/** Thrown for a body that is not a hello request; the message names the field, never echoes values. */
export class HelloShapeError extends Error {}

/**
 * Strict shape check of an untrusted hello body. Logical *content* is the
 * policy's job; here only types, counts and lengths are checked.
 */
export function parseHelloRequest(raw: unknown): HelloRequest {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new HelloShapeError("body must be a JSON object");
  const body = raw as Record<string, unknown>;
  for (const k of Object.keys(body))
    if (!ALLOWED_KEYS.has(k)) throw new HelloShapeError(`unknown field ${quotedName(k)}`);
  const { instanceId, requestedLogicals, capabilities, systemId } = body;
  if (!isTokenId(instanceId)) throw new HelloShapeError("instanceId must match [A-Za-z0-9_.:-]{1,128}");
  if (
    !Array.isArray(requestedLogicals) ||
    requestedLogicals.length > TOKEN_LIMITS.maxLogicals ||
    !requestedLogicals.every(
      (l) => typeof l === "string" && l.length > 0 && l.length <= TOKEN_LIMITS.maxLogicalLength,
    )
  ) {
    throw new HelloShapeError(
      `requestedLogicals must be 0–${TOKEN_LIMITS.maxLogicals} strings of ≤ 253 characters (none: a client that serves nothing)`,
    );
  }
  let caps: string[] = [];
  if (capabilities !== undefined) {
    if (
      !Array.isArray(capabilities) ||
      capabilities.length > TOKEN_LIMITS.maxCapabilities ||
      !capabilities.every((c) => typeof c === "string" && CAPABILITY_PATTERN.test(c))
    ) {
      throw new HelloShapeError(
        `capabilities must be ≤ ${TOKEN_LIMITS.maxCapabilities} names of [A-Za-z0-9_.:/-]{1,64}`,
      );
    }
    caps = capabilities as string[];
  }
  if (systemId !== undefined && !isSystemId(systemId))
    throw new HelloShapeError("systemId must match [A-Za-z0-9_]{1,64}");
  return {
    instanceId,
    requestedLogicals: requestedLogicals as string[],
    capabilities: caps,
    ...(systemId !== undefined ? { systemId } : {}),
  };
}
