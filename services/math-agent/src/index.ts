export { MathAgent, type MathAgentOptions } from "./math-agent.js";
