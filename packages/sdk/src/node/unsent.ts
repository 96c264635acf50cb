/**
 * The RPC failures of a message that did not leave this node. Each says whether a resend
 * could help: a link that is not there may be retried, a message the protocol refuses
 * (a malformed address, a frame over the limit) would be refused again.
 */
import { isProtocolError } from "@fame/protocol";
import { encodeError } from "../rpc/jsonrpc.js";
import { RpcError, RpcErrorCode } from "../rpc/rpc-error.js";
import type { JsonObject } from "../rpc/transport.js";
import { frameTooLargeReason } from "./frame-limit.js";

export function isFrameTooLarge(err: unknown): boolean {
  return isProtocolError(err) && err.code === "frame_too_large";
}

/** A call to something that is not an address: no sentinel could route it. */
export function badAddress(to: string): RpcError {
  const shown = to.length > 80 ? `${to.slice(0, 79)}…` : to;
  return new RpcError(
    RpcErrorCode.SERVER_ERROR,
    `"${shown}" is not a fabric address: expected name@logical (e.g. math@fame.fabric) or name@/physical/path`,
    "bad_address",
  );
}

/**
 * Why a send threw, as the error its call fails with. `json` gives the message's text, read
 * only to size an oversized one.
 */
export function unsentError(err: unknown, json: () => string, frameLimit: number, sealed: boolean): RpcError {
  if (isFrameTooLarge(err)) {
    const reason = frameTooLargeReason(Buffer.byteLength(json()), frameLimit, sealed);
    return new RpcError(RpcErrorCode.SERVER_ERROR, reason, "frame_too_large", {
      notExecuted: true,
      cause: err,
    });
  }
  if (isProtocolError(err))
    return new RpcError(RpcErrorCode.SERVER_ERROR, err.message, err.code, { cause: err });
  return new RpcError(RpcErrorCode.SERVER_ERROR, (err as Error).message, "replica_unavailable", {
    notExecuted: true,
    cause: err,
  });
}

/** The error answer for a reply that did not fit; an SDK request's JSON-RPC id is its corrId. */
export function tooLargeAnswer(corrId: string, reason: string): JsonObject {
  return encodeError(corrId, RpcErrorCode.INTERNAL_ERROR, reason, "frame_too_large");
}

/**
 * The error answer for a reply the protocol refused on its way out (too large, too deep): the
 * caller learns it at once instead of waiting out its timeout.
 */
export function unsentAnswer(corrId: string, reason: string, fameCode: string): JsonObject {
  return encodeError(
    corrId,
    RpcErrorCode.INTERNAL_ERROR,
    `the answer could not be sent: ${reason}`,
    fameCode,
  );
}
