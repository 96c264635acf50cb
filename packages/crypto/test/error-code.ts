import { CryptoError, type CryptoErrorCode } from "../src/index.js";

/** The code a call fails with, so a test can compare codes across back ends in one assertion. */
export function codeOf(run: () => unknown): CryptoErrorCode | "no error" | "untyped" {
  try {
    run();
    return "no error";
  } catch (error) {
    return error instanceof CryptoError ? error.code : "untyped";
  }
}
