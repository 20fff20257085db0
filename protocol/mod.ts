/**
 * The operations, replies and wire messages shared by brokers and clients.
 *
 * @module
 */
export * from "./operations.ts";
