/**
 * A tiny actor kit shared by the broker and the workers: a bounded
 * {@linkcode Mailbox} and an {@linkcode Actor} that handles one batch of
 * messages at a time. Pure web-standard code; runs in browsers.
 *
 * @module
 */
export * from "./mailbox.ts";
export * from "./actor.ts";
