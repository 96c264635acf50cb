/** the built-in operation every served agent answers with what it serves (see describe.ts) */
export const DESCRIBE_METHOD = "rpc.describe";
