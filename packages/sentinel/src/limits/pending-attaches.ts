/**
 * Connections that are open but not attached yet, in total and per remote key, so the server
 * can cap both before it upgrades another one: the services' connection tally.
 */
export { ConnectionTally as PendingAttaches, hostOf } from "@fame/http-service/connection-tally";
