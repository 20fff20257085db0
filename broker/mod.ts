/**
 * The broker: the single-writer actor over the queue state, and the embedded
 * `Queue<T>`.
 *
 * @module
 */
export * from "./broker.ts";
export * from "./queue.ts";
export * from "./archive_reader.ts";
