import type { WorkGate } from "@fame/http-service/work-gate";
import {
  HELLO_PATH,
  NODE_CONNECT_SCOPE,
  type SigningKey,
  signAttachTicket,
  signCaGrant,
  TokenError,
  type VerificationKeys,
  verifyAccessToken,
} from "@fame/identity";
import { LogThrottle, untrustedText } from "@fame/logger";
import { sidFromPath } from "@fame/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NoLiveSentinelError } from "./cluster-placement.js";
import { HelloShapeError, parseHelloRequest } from "./hello-request.js";
import type { LogicalPolicy } from "./logical-policy.js";
import type { PlacementStrategy } from "./placement.js";
import { sendWelcomeError } from "./welcome-error.js";

// One definition shared with admitNode, so the client and the route cannot drift apart.
export { HELLO_PATH };

export interface HelloDeps {
  issuer: string;
  signingKey: SigningKey;
  accessToken: { keys: VerificationKeys; issuer: string; audience: string; clockToleranceSec?: number };
  sentinelAudience: string;
  ticketTtlSec: number;
  caGrantTtlSec: number;
  transportUrl: string;
  caSignUrl: string;
  allowClientSystemId: boolean;
  policy: LogicalPolicy;
  placement: PlacementStrategy;
  /** bounds the admissions in progress and waiting (FAME_WELCOME_MAX_HELLOS, FAME_WELCOME_HELLO_QUEUE) */
  gate: WorkGate;
}

/** What Welcome answers to an admitted node. */
export interface HelloResponse {
  systemId: string;
  assignedPath: string;
  sid: string;
  acceptedLogicals: string[];
  attachTicket: string;
  /** `urls` in a cluster: every live sentinel, `url` (where the node was placed) first */
  transport: { url: string; urls?: string[] };
  caGrant: { url: string; token: string; expiresAt: string };
  /** when the attach ticket expires (ISO 8601) */
  expiresAt: string;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

export function registerHello(app: FastifyInstance, deps: HelloDeps): void {
  // refusals are the caller's doing: a flood of them is a few lines a minute, each counted
  const log = new LogThrottle(5, 100, 60_000);
  app.post(HELLO_PATH, async (req, reply) => {
    const token = bearerToken(req);
    if (token === undefined)
      return sendWelcomeError(reply, 401, "invalid_token", "Bearer access token required");
    // The token is checked before the queue, so a guesser holds no place in it, and the queue
    // is shared out by credential: one holder sending hellos as fast as it can gets its turn in
    // the round and no more than its share of the places.
    let clientId: string;
    try {
      const claims = await verifyAccessToken(token, {
        ...deps.accessToken,
        requiredScopes: [NODE_CONNECT_SCOPE],
      });
      clientId = claims.client_id;
    } catch (err) {
      return refuseToken(req, reply, err, log);
    }
    // Under a reconnect storm every node re-admits at once: past the gate's queue a node is told
    // when to come back (its reattach loop waits at least that long) rather than timing out.
    const turn = await deps.gate.enter(clientId);
    if ("retryAfterSec" in turn) {
      // a storm's every node hears this: counted, not a line each
      if (log.hit())
        req.log.warn(
          {
            event: "hello_refused",
            client_id: clientId,
            error: "saturated",
            retry_after: turn.retryAfterSec,
            refusals: log.total,
          },
          "too many admissions waiting",
        );
      return sendWelcomeError(
        reply,
        503,
        "temporarily_unavailable",
        "too many admissions waiting",
        turn.retryAfterSec,
      );
    }
    try {
      return await admit(req, reply, clientId, deps, log);
    } finally {
      turn.release();
    }
  });
}

async function admit(
  req: FastifyRequest,
  reply: FastifyReply,
  clientId: string,
  deps: HelloDeps,
  log: LogThrottle,
): Promise<FastifyReply> {
  let hello: ReturnType<typeof parseHelloRequest>;
  try {
    hello = parseHelloRequest(req.body);
  } catch (err) {
    if (!(err instanceof HelloShapeError)) throw err;
    if (log.hit())
      req.log.warn(
        {
          event: "hello_refused",
          client_id: clientId,
          error: "invalid_request",
          reason: err.message,
          refusals: log.total,
        },
        "bad hello",
      );
    return sendWelcomeError(reply, 400, "invalid_request", err.message);
  }

  const decision = deps.policy.decide(hello.requestedLogicals, clientId);
  if (!decision.ok) {
    if (log.hit())
      req.log.warn(
        {
          event: "hello_refused",
          client_id: clientId,
          error: "logical_not_allowed",
          logical: untrustedText(decision.refused, 253),
          reason: decision.reason,
          refusals: log.total,
        },
        "logical refused",
      );
    return sendWelcomeError(
      reply,
      403,
      "logical_not_allowed",
      `${untrustedText(decision.refused, 253)}: ${decision.reason}`,
    );
  }

  let placement: ReturnType<PlacementStrategy["place"]>;
  try {
    placement = deps.placement.place({
      clientId,
      instanceId: hello.instanceId,
      ...(deps.allowClientSystemId && hello.systemId !== undefined ? { systemId: hello.systemId } : {}),
    });
  } catch (err) {
    if (!(err instanceof NoLiveSentinelError)) throw err;
    req.log.warn({ event: "hello_refused", client_id: clientId, error: "no_live_sentinel" }, err.message);
    return sendWelcomeError(reply, 503, "temporarily_unavailable", err.message, err.retryAfterSec);
  }
  const { systemId, assignedPath } = placement;
  const transport = placement.transport ?? { url: deps.transportUrl };
  const identity = {
    systemId,
    assignedPath,
    acceptedLogicals: decision.accepted,
    instanceId: hello.instanceId,
    // the sentinel's access policy names nodes by the credential they were admitted with
    clientId,
  };
  const ticket = await signAttachTicket(deps.signingKey, {
    ...identity,
    issuer: deps.issuer,
    audience: deps.sentinelAudience,
    ttlSec: deps.ticketTtlSec,
  });
  const grant = await signCaGrant(deps.signingKey, {
    ...identity,
    issuer: deps.issuer,
    ttlSec: deps.caGrantTtlSec,
  });
  req.log.info(
    {
      event: "node_admitted",
      client_id: clientId,
      system_id: systemId,
      assigned_path: assignedPath,
      instance_id: hello.instanceId,
      logicals: decision.accepted,
      capabilities: hello.capabilities,
      ...(placement.transport ? { sentinel_url: transport.url } : {}),
      ticket_jti: ticket.claims.jti,
      grant_jti: grant.claims.jti,
      proposed_system_id_ignored: hello.systemId !== undefined && !deps.allowClientSystemId,
    },
    "node admitted",
  );
  const body: HelloResponse = {
    systemId,
    assignedPath,
    sid: sidFromPath(assignedPath),
    acceptedLogicals: decision.accepted,
    attachTicket: ticket.token,
    transport,
    caGrant: { url: deps.caSignUrl, token: grant.token, expiresAt: iso(grant.claims.exp) },
    expiresAt: iso(ticket.claims.exp),
  };
  return reply.header("cache-control", "no-store").send(body);
}

function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== "string" || h.length > 9000) return undefined;
  return BEARER.exec(h.trim())?.[1];
}

function refuseToken(req: FastifyRequest, reply: FastifyReply, err: unknown, log: LogThrottle): FastifyReply {
  if (!(err instanceof TokenError)) throw err;
  if (log.hit())
    req.log.warn({ event: "hello_refused", error: err.code, refusals: log.total }, "access token refused");
  if (err.code === "token_missing_scope") {
    return sendWelcomeError(reply, 403, "insufficient_scope", `scope ${NODE_CONNECT_SCOPE} required`);
  }
  if (err.code === "token_keys_unavailable") {
    req.log.error({ err: err.cause }, "cannot obtain the OAuth2 signing keys");
    return sendWelcomeError(reply, 503, "temporarily_unavailable", "token verification keys unavailable");
  }
  return sendWelcomeError(reply, 401, "invalid_token", err.message);
}

function iso(epochSec: number): string {
  return new Date(epochSec * 1000).toISOString();
}
