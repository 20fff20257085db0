/**
 * The pure queue model: the state, the transition function `applyBatch`, and
 * the archive format. No I/O, no clock, no randomness: time and randomness
 * come in as arguments.
 *
 * @example Apply a batch of operations to a state, without any I/O
 * ```ts
 * import { applyBatch, createState, queueStats } from "@osqueue/osqueue/core";
 *
 * const { state, replies } = applyBatch(createState(), [
 *   { op: "push", jobs: [{ type: "email:send", payload: { to: "a@example.com" } }] },
 *   { op: "claim", workerId: "w1", max: 1 },
 * ], { now: 0, defaultLeaseMs: 30_000, newToken: () => crypto.randomUUID(), random: Math.random });
 * console.log(replies.every((reply) => reply.ok), queueStats(state, 0).active); // true 1
 * ```
 *
 * @module
 */
export * from "./state.ts";
export * from "./apply.ts";
export * from "./archive.ts";
export type { JobSummary } from "./admin.ts";
