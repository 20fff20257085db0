/**
 * The pure queue model: the state, the transition function `applyBatch`, and
 * the archive format. No I/O, no clock, no randomness: time and randomness
 * come in as arguments.
 *
 * @module
 */
export * from "./state.ts";
export * from "./apply.ts";
export * from "./archive.ts";
export * from "./admin.ts";
