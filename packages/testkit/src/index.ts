export { type ProcessSpec, pidAlive, type RunningProcess, startProcess, stopAll } from "./processes.js";
