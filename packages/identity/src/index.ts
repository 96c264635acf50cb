export * from "./admission/index.js";
export * from "./aft/index.js";
export * from "./pki/index.js";
export * from "./policy/index.js";
export * from "./tokens/index.js";
