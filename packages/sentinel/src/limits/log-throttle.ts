// one throttle for every package that logs refusals: it lives with the logger
export { LogThrottle } from "@fame/logger";
