/**
 * A tiny actor: a bounded mailbox plus a run loop that hands everything queued
 * to one handler call at a time. Because exactly one batch is handled at a
 * time, the handler is the single writer of whatever state it owns.
 *
 * Pure web-standard code (no `Deno.*`, no `node:`): workers use it in browsers.
 *
 * @module
 */
import { InvalidError, OsqueueError, ShuttingDownError, TimeoutError } from "../errors.ts";
import { Mailbox } from "./mailbox.ts";

/**
 * One message handed to {@linkcode ActorOptions.handleBatch}, with the way to
 * answer it. Settling is idempotent: the first `resolve`/`reject` wins.
 */
export interface Envelope<Req, Res> {
  /** The message sent with `ask` or `tell`. */
  readonly message: Req;
  /** Answers the message (no-op once settled). */
  resolve(value: Res): void;
  /** Fails the message (no-op once settled). */
  reject(error: unknown): void;
  /**
   * Whether the message is answered. Also `true` when the asker stopped
   * waiting (aborted or timed out) while the message was being handled: the
   * reply then goes nowhere, and the handler may react (e.g. undo a claim).
   */
  readonly settled: boolean;
}

/** Options of {@linkcode Actor}. */
export interface ActorOptions<Req, Res> {
  /** Name used in error messages. Default `actor`. */
  name?: string;
  /** Mailbox capacity; `ask`/`tell` fail with `OverloadedError` beyond it. Default 10 000. */
  capacity?: number;
  /**
   * Handles one drained batch (all messages queued at the time, oldest first).
   * Must settle every envelope; any envelope it leaves unsettled when the
   * returned promise settles is rejected (with the thrown error, or an
   * `internal` error saying it was left unanswered). Never called concurrently.
   * It must not await `stop()` or an `ask` to its own actor (that would deadlock).
   */
  handleBatch(batch: Envelope<Req, Res>[]): Promise<void>;
  /**
   * Receives errors no caller will see: a rejected `tell` message, and an
   * error thrown by `handleBatch` after it had settled every envelope.
   * Errors thrown by `onError` itself are ignored.
   */
  onError?(error: unknown): void;
}

/** Options of {@linkcode Actor.ask}. */
export interface AskOptions {
  /**
   * Aborts the request: if still queued it is removed and never handled; if
   * already being handled it cannot be un-sent, the caller just stops waiting.
   * Either way `ask` rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Rejects with `TimeoutError` after this many milliseconds (same removal rules as `signal`). */
  timeoutMs?: number;
}

/** Options of {@linkcode Actor.stop}. */
export interface StopOptions {
  /**
   * `true`: handle everything already queued, then stop. `false` (default):
   * reject every queued message with `ShuttingDownError`. A later
   * `stop({ drain: false })` cuts a draining stop short.
   */
  drain?: boolean;
}

type Settle = () => void;

class Letter<Req, Res> implements Envelope<Req, Res> {
  readonly message: Req;
  #settled = false;
  #onResolve: (value: Res) => void;
  #onReject: (error: unknown) => void;
  /** Cleanups run once, when the letter settles (timers, abort listeners). */
  cleanup: Settle | undefined;

  constructor(message: Req, onResolve: (value: Res) => void, onReject: (error: unknown) => void) {
    this.message = message;
    this.#onResolve = onResolve;
    this.#onReject = onReject;
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(value: Res): void {
    if (this.#settle()) this.#onResolve(value);
  }

  reject(error: unknown): void {
    if (this.#settle()) this.#onReject(error);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    const cleanup = this.cleanup;
    this.cleanup = undefined;
    cleanup?.();
    return true;
  }
}

/**
 * An actor: `ask`/`tell` queue messages in a bounded mailbox; a run loop takes
 * everything queued and passes it to `handleBatch`, one batch at a time.
 * Messages posted while a batch is handled form the next batch.
 *
 * @example
 * ```ts
 * import { Actor } from "./actor.ts";
 *
 * let total = 0;
 * const adder = new Actor<number, number>({
 *   handleBatch(batch) {
 *     for (const envelope of batch) envelope.resolve(total += envelope.message);
 *     return Promise.resolve();
 *   },
 * });
 * adder.start();
 * console.log(await adder.ask(2)); // 2
 * await adder.stop({ drain: true });
 * ```
 */
export class Actor<Req, Res> {
  #name: string;
  #mailbox: Mailbox<Letter<Req, Res>>;
  #handleBatch: (batch: Envelope<Req, Res>[]) => Promise<void>;
  #onError: ((error: unknown) => void) | undefined;
  #running = false;
  #stopping = false;
  #loop: Promise<void> | undefined;

  /** Builds a stopped actor; call {@linkcode Actor.start} to run it. */
  constructor(options: ActorOptions<Req, Res>) {
    this.#name = options.name ?? "actor";
    this.#mailbox = new Mailbox({ capacity: options.capacity });
    this.#handleBatch = options.handleBatch.bind(options);
    this.#onError = options.onError?.bind(options);
  }

  /** Whether the run loop is alive (from `start` until `stop` has finished). */
  get running(): boolean {
    return this.#running;
  }

  /** How many messages wait for the next batch. */
  get queued(): number {
    return this.#mailbox.size;
  }

  /** Starts the run loop. Idempotent; does nothing once `stop` was called. */
  start(): void {
    if (this.#loop !== undefined || this.#stopping) return;
    this.#startLoop();
  }

  /**
   * Sends a message without waiting for the reply; a rejection goes to
   * `onError`. Throws `OverloadedError` when the mailbox is full and
   * `ShuttingDownError` after `stop`.
   */
  tell(message: Req): void {
    if (this.#stopping) throw this.#shuttingDown();
    this.#mailbox.post(new Letter<Req, Res>(message, ignore, (error) => this.#report(error)));
  }

  /**
   * Sends a message and resolves with the reply. Rejects with
   * `OverloadedError` when the mailbox is full, `ShuttingDownError` after
   * `stop` (or if stopped without draining while queued), `TimeoutError`
   * after `timeoutMs`, and the signal's reason on abort.
   */
  ask(message: Req, options: AskOptions = {}): Promise<Res> {
    const { signal, timeoutMs } = options;
    if (this.#stopping) return Promise.reject(this.#shuttingDown());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(
        new InvalidError(`timeoutMs must be a finite number >= 0, got ${timeoutMs}`),
      );
    }
    let letter!: Letter<Req, Res>;
    const reply = new Promise<Res>((resolve, reject) => {
      letter = new Letter(message, resolve, reject);
    });
    try {
      this.#mailbox.post(letter);
    } catch (error) {
      return Promise.reject(error);
    }
    const cancel = (reason: unknown): void => {
      this.#mailbox.remove(letter);
      letter.reject(reason);
    };
    const onAbort = (): void => cancel(signal?.reason);
    const timer = timeoutMs === undefined ? undefined : setTimeout(
      () => cancel(new TimeoutError(`${this.#name}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    letter.cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    return reply;
  }

  /**
   * Stops accepting messages and resolves once the batch in progress (and,
   * with `drain: true`, everything queued) has been handled. Without `drain`,
   * queued messages are rejected with `ShuttingDownError`. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping = true;
    if (options.drain) {
      // The loop closes the mailbox once it finds it empty; run it if it never started.
      if (this.#loop === undefined && this.#mailbox.size > 0) this.#startLoop();
      // An idle loop sleeps in `next()`: closing an empty mailbox wakes it.
      if (this.#mailbox.size === 0) this.#mailbox.close();
    } else {
      for (const letter of this.#mailbox.close()) letter.reject(this.#shuttingDown());
    }
    return this.#loop ?? Promise.resolve();
  }

  #startLoop(): void {
    this.#running = true;
    this.#loop = this.#run()
      .catch((error) => this.#report(error))
      .finally(() => {
        this.#running = false;
        // Anything left (there should be nothing) must not hang its caller.
        for (const letter of this.#mailbox.close()) letter.reject(this.#shuttingDown());
      });
  }

  async #run(): Promise<void> {
    while (true) {
      if (this.#mailbox.size === 0) {
        if (this.#stopping || this.#mailbox.closed) return;
        await this.#mailbox.next();
        continue;
      }
      const batch = this.#mailbox.drain().filter((letter) => !letter.settled);
      if (batch.length > 0) await this.#handle(batch);
    }
  }

  async #handle(batch: Letter<Req, Res>[]): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      await this.#handleBatch(batch);
    } catch (error) {
      failure = { error };
    }
    const unsettled = batch.filter((letter) => !letter.settled);
    if (failure !== undefined && unsettled.length === 0) this.#report(failure.error);
    for (const letter of unsettled) {
      letter.reject(
        failure !== undefined ? failure.error : new OsqueueError(
          "internal",
          `${this.#name}: handleBatch left a message unanswered`,
        ),
      );
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error);
    } catch {
      // onError itself failed: nowhere left to report to.
    }
  }

  #shuttingDown(): ShuttingDownError {
    return new ShuttingDownError(`${this.#name} is shutting down`);
  }
}

function ignore(): void {}
