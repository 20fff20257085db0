/**
 * Test tools: {@linkcode FaultyStore} wraps any store and injects latency,
 * transient errors, forced conflicts and ambiguous writes, and counts what
 * passes through it; {@linkcode seededRandom} makes the faults reproducible;
 * {@linkcode ManualClock} runs anything that takes a `Clock` on virtual time.
 *
 * @example A broker over a store that fails one put in ten
 * ```ts
 * import { FaultyStore, seededRandom } from "@osqueue/osqueue/testing";
 * import { MemoryStore } from "@osqueue/osqueue/storage";
 * import { UnavailableError } from "@osqueue/osqueue";
 *
 * const store = new FaultyStore(new MemoryStore(), {
 *   unavailableRate: { put: 0.1 },
 *   random: seededRandom(42),
 * });
 * store.failNext("get", new UnavailableError("injected"));
 * await store.get("queue.json").catch((error) => console.log(error.code)); // "unavailable"
 * ```
 *
 * @module
 */
export * from "../storage/faulty_store.ts";
export * from "./manual_clock.ts";
