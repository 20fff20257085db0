/**
 * osqueue: a durable job queue whose state lives on object storage (a head
 * object, one log object per commit, background checkpoints), changed only by
 * compare-and-swap writes.
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
