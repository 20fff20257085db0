/**
 * The broker: the pure queue state model, the single-writer broker actor,
 * the embedded `Queue<T>` and the network server.
 *
 * @module
 */
export * from "./state.ts";
export * from "./apply.ts";
export * from "./archive.ts";
export * from "./broker.ts";
export * from "./queue.ts";
export * from "./server.ts";
export { type DispatcherClock, systemClock } from "./dispatcher.ts";
export { httpStatusForCode } from "./rest.ts";
