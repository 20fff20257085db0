/**
 * osqueue: a durable job queue whose whole state lives in one JSON object on
 * object storage, changed only by compare-and-swap writes.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./storage/mod.ts";
export * from "./protocol/mod.ts";
export * from "./actors/mod.ts";
export * from "./core/mod.ts";
export * from "./broker/mod.ts";
export * from "./server/mod.ts";
export * from "./worker/mod.ts";
