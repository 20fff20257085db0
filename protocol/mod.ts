/**
 * The operations, replies and wire messages shared by brokers and clients.
 *
 * @module
 */
export * from "./operations.ts";
export * from "./wire.ts";
export * from "./backend.ts";
export * from "./json_value.ts";
