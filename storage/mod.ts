/**
 * The store contract and its backends.
 *
 * @module
 */
export * from "./types.ts";
export * from "./keys.ts";
export * from "./memory_store.ts";
export * from "./directory_store.ts";
export * from "./faulty_store.ts";
export * from "./s3_store.ts";
export * from "./instrumented_store.ts";
