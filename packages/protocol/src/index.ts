export { base62, sidFromPath } from "./sid.js";
