/**
 * A tiny actor kit shared by the broker and the workers: a bounded
 * {@linkcode Mailbox} and an {@linkcode Actor} that handles one batch of
 * messages at a time. Pure web-standard code; runs in browsers.
 *
 * @example An actor that sums what it is sent, one batch at a time
 * ```ts
 * import { Actor } from "@osqueue/osqueue/actors";
 *
 * let total = 0;
 * const adder = new Actor<number, number>({
 *   handleBatch: async (batch) => {
 *     for (const envelope of batch) envelope.resolve(total += envelope.message);
 *   },
 * });
 * adder.start();
 * console.log(await adder.ask(2), await adder.ask(3)); // 2 5
 * await adder.stop();
 * ```
 *
 * @module
 */
export * from "./mailbox.ts";
export * from "./actor.ts";
