export { sha256 } from "./hash.js";
