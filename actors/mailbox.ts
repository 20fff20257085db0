/**
 * A bounded FIFO queue that one consumer drains in batches: the one actor
 * primitive of osqueue. The broker's loop and the `Worker`'s loop each drain
 * a {@linkcode Mailbox}; each is then the single writer of its own state.
 *
 * Decision (issue 14): there is no published actor kit. An `Actor` class with
 * `ask`/`tell` used to sit on top of this mailbox, but the broker could not use
 * it (it needs replies deferred past the batch that received a request — a
 * parked claim, a reply settled only once the commit lands — and wake-ups on
 * timers, not only on messages), the worker used it only through `tell`, and
 * `ask` had no production user. A mailbox plus a plain `while` loop in its
 * owner says the same with less: each owner drains it, handles the batch, and
 * decides itself what waking up and replying mean. So this module is
 * internal (no `./actors` entry point); it stays a folder of its own because
 * both the broker and the browser-safe worker import it.
 *
 * Pure web-standard code (no `Deno.*`, no `node:`): workers use it in browsers.
 *
 * @module
 */
import { InvalidError, OverloadedError, ShuttingDownError } from "../errors.ts";

/** The default {@linkcode MailboxOptions.capacity}. */
export const DEFAULT_MAILBOX_CAPACITY = 10_000;

/** Options of {@linkcode Mailbox}. */
export interface MailboxOptions {
  /** Most messages held at once; {@linkcode Mailbox.post} throws when full. Default 10 000. */
  capacity?: number;
}

interface Waiter {
  wake(): void;
}

/**
 * A bounded FIFO queue of messages with a single consumer that takes
 * everything queued at once ({@linkcode Mailbox.drain}) and waits for more
 * with {@linkcode Mailbox.next}.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 *
 * const mailbox = new Mailbox<string>({ capacity: 2 });
 * mailbox.post("a");
 * mailbox.post("b");
 * await mailbox.next(); // resolves at once: messages are queued
 * console.log(mailbox.drain()); // ["a", "b"]
 * ```
 */
export class Mailbox<M> {
  #queue: M[] = [];
  #capacity: number;
  #closed = false;
  #waiters = new Set<Waiter>();

  /** Builds an empty, open mailbox; throws `InvalidError` on a capacity that is not a positive integer. */
  constructor(options: MailboxOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InvalidError(`mailbox capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** How many messages are queued now. */
  get size(): number {
    return this.#queue.length;
  }

  /** Whether {@linkcode Mailbox.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Most messages held at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Queues a message. Throws `ShuttingDownError` once the mailbox is closed and
   * `OverloadedError` when it holds {@linkcode Mailbox.capacity} messages.
   */
  post(message: M): void {
    if (this.#closed) throw new ShuttingDownError("mailbox is closed");
    if (this.#queue.length >= this.#capacity) {
      throw new OverloadedError(`mailbox is full (${this.#capacity} messages)`, {
        data: { capacity: this.#capacity },
      });
    }
    this.#queue.push(message);
    this.#wakeAll();
  }

  /** Takes every queued message, oldest first, leaving the mailbox empty. */
  drain(): M[] {
    const batch = this.#queue;
    this.#queue = [];
    return batch;
  }

  /**
   * Takes one queued message out (the first one equal by `===`), e.g. a request
   * whose caller gave up before it was handled. Returns whether it was queued.
   */
  remove(message: M): boolean {
    const index = this.#queue.indexOf(message);
    if (index < 0) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  /**
   * Resolves once at least one message is queued or the mailbox is closed (at
   * once if that is already so). Rejects with the signal's reason if `signal`
   * aborts first.
   */
  next(signal?: AbortSignal): Promise<void> {
    if (this.#queue.length > 0 || this.#closed) return Promise.resolve();
    return this.posted(signal);
  }

  /**
   * Resolves at the next post (or close), even when messages are already
   * queued; rejects with the signal's reason when it aborts first.
   */
  posted(signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Stops accepting messages and wakes every {@linkcode Mailbox.next} waiter.
   * Returns the messages still queued (oldest first), which are removed.
   * Idempotent: later calls return `[]`.
   */
  close(): M[] {
    this.#closed = true;
    const rest = this.drain();
    this.#wakeAll();
    return rest;
  }

  #wakeAll(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.wake();
  }
}
