export { pidAlive, type ProcessSpec, type RunningProcess, startProcess, stopAll } from "./processes.js";
