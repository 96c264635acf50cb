/**
 * `@fame/sdk/codes`: the SDK's error codes and the name of its built-in operation, without the
 * SDK. A tool that only reads errors or names `rpc.describe` (the `fame` CLI's exit codes and
 * help) loads this and leaves the fabric code (admission, certificates, channels) unloaded
 * until it connects.
 */

export { trustProblem, withTrustHint } from "@fame/http-service/trust-problem";
export { DESCRIBE_METHOD } from "./rpc/describe-method.js";
export { FameRpcCode, isRpcError, RpcError, RpcErrorCode } from "./rpc/rpc-error.js";
