import type { WorkGate } from "@fame/http-service/work-gate";
import {
  type CaGrantClaims,
  CsrError,
  issueNodeCertificate,
  MAX_CSR_PEM_CHARS,
  TokenError,
  verifyCaGrant,
} from "@fame/identity";
import type { Logger } from "@fame/logger";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CaError, csrStatus, sendCaError } from "./ca-error.js";
import type { CaConfig } from "./config.js";
import type { GrantUseCounter } from "./grant-uses.js";

export const SIGN_PATH = "/fame/v1/ca/sign";
const MAX_AUTHORIZATION_CHARS = 8 * 1024;
const BEARER = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/;
const MIN_TTL_SEC = 60;

export interface SignRouteDeps {
  config: CaConfig;
  grantUses: GrantUseCounter;
  log: Logger;
  /** bounds the signings in progress and waiting (see WorkGate) */
  gate: WorkGate;
  onIssued?: () => void;
}

export interface SignResponse {
  certificatePem: string;
  /** The issuing intermediate; the root is in the trust bundle (GET /fame/v1/ca/bundle). */
  chainPem: string;
  /** ISO 8601 notAfter of the certificate. */
  expiresAt: string;
  spiffeId: string;
  serialNumber: string;
}

function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (typeof header !== "string" || header.length === 0)
    throw new CaError(401, "invalid_token", "missing bearer token");
  if (header.length > MAX_AUTHORIZATION_CHARS)
    throw new CaError(401, "invalid_token", "authorization header too large");
  const m = BEARER.exec(header);
  if (!m) throw new CaError(401, "invalid_token", "authorization is not a Bearer token");
  return m[1]!;
}

function signBody(body: unknown, config: CaConfig): { csr: string; ttlSec: number } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new CaError(400, "invalid_request", "body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => k !== "csr" && k !== "ttlSec");
  if (extra.length > 0) throw new CaError(400, "invalid_request", `unknown field ${extra[0]!.slice(0, 64)}`);
  if (typeof b["csr"] !== "string" || b["csr"].length === 0) {
    throw new CaError(400, "invalid_request", "csr must be a PEM string");
  }
  if (b["csr"].length > MAX_CSR_PEM_CHARS) throw new CaError(400, "csr_too_large", "csr is too large");
  let ttlSec = config.defaultTtlSec;
  if (b["ttlSec"] !== undefined) {
    const t = b["ttlSec"];
    if (typeof t !== "number" || !Number.isSafeInteger(t) || t < MIN_TTL_SEC) {
      throw new CaError(400, "invalid_request", `ttlSec must be an integer ≥ ${MIN_TTL_SEC}`);
    }
    // Longer requests are not an error: the CA's policy simply caps them.
    ttlSec = Math.min(t, config.maxTtlSec);
  }
  return { csr: b["csr"], ttlSec };
}

async function verifyGrant(token: string, deps: SignRouteDeps): Promise<CaGrantClaims> {
  let grant: CaGrantClaims;
  try {
    grant = await verifyCaGrant(token, {
      keys: deps.config.welcome.keys,
      issuer: deps.config.welcome.issuer,
    });
  } catch (err) {
    if (err instanceof TokenError && err.code === "token_keys_unavailable") {
      throw new CaError(503, "temporarily_unavailable", "grant verification keys are unavailable");
    }
    const why = err instanceof TokenError ? `${err.code}: ${err.message}` : "grant cannot be verified";
    throw new CaError(401, "invalid_token", why);
  }
  return grant;
}

/**
 * Counts one use of a verified grant. Called once the request is well formed, so a client's
 * malformed body does not burn one of the few uses meant for retries after a lost answer.
 */
function countGrantUse(grant: CaGrantClaims, deps: SignRouteDeps): void {
  const verdict = deps.grantUses.use(grant.jti, grant.exp);
  if (verdict === "exhausted") throw new CaError(401, "invalid_token", "grant use limit reached");
  if (verdict === "full") throw new CaError(503, "temporarily_unavailable", "too many outstanding grants");
}

export function registerSignRoute(app: FastifyInstance, deps: SignRouteDeps): void {
  const { config, log } = deps;
  app.post(SIGN_PATH, async (req, reply) => {
    let grant: CaGrantClaims | undefined;
    let release: (() => void) | undefined;
    try {
      // The grant is checked before the queue, so a guesser holds no place in it; places are
      // shared out by the credential the node was admitted with (its system id in grants of
      // older issuers), so one holder signing as fast as it can gets its share and no more.
      grant = await verifyGrant(bearerToken(req), deps);
      const turn = await deps.gate.enter(grant.client_id ?? grant.system_id);
      if ("retryAfterSec" in turn)
        throw new CaError(503, "temporarily_unavailable", "too many signings waiting", turn.retryAfterSec);
      release = turn.release;
      const body = signBody(req.body, config);
      countGrantUse(grant, deps);
      const issued = await issueNodeCertificate({
        csrPem: body.csr,
        issuerCertPem: config.issuerCertPem,
        issuerKey: config.issuerKey,
        ttlSec: body.ttlSec,
        maxTtlSec: config.maxTtlSec,
        trustDomain: config.trustDomain,
        expect: {
          systemId: grant.system_id,
          assignedPath: grant.assigned_path,
          logicals: grant.accepted_logicals,
          ...(grant.client_id === undefined ? {} : { principal: grant.client_id }),
        },
      });
      deps.onIssued?.();
      log.info(
        {
          event: "ca.issued",
          systemId: issued.systemId,
          sid: issued.claims.sid,
          serial: issued.serialNumber,
          notAfter: issued.notAfter.toISOString(),
          jti: grant.jti,
        },
        "node certificate issued",
      );
      const res: SignResponse = {
        certificatePem: issued.certificatePem,
        chainPem: config.issuerCertPem,
        expiresAt: issued.notAfter.toISOString(),
        spiffeId: issued.spiffeId,
        serialNumber: issued.serialNumber,
      };
      return reply.status(200).send(res);
    } catch (err) {
      const caErr =
        err instanceof CaError
          ? err
          : err instanceof CsrError
            ? new CaError(csrStatus(err.code), err.code, err.message)
            : null;
      if (!caErr) {
        log.error({ event: "ca.sign_failed", err, systemId: grant?.system_id }, "signing failed");
        return sendCaError(reply, new CaError(500, "internal_error", "internal error"));
      }
      log.warn(
        {
          event: "ca.refused",
          status: caErr.status,
          code: caErr.code,
          reason: caErr.message,
          systemId: grant?.system_id,
          jti: grant?.jti,
          remote: req.ip,
        },
        "sign request refused",
      );
      return sendCaError(reply, caErr);
    } finally {
      release?.();
    }
  });
}
