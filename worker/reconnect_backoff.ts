/**
 * {@linkcode ReconnectBackoff}: how long the client waits between failed
 * rounds of connection attempts (exponential, capped, with jitter), and the
 * one cancellable pause that waits it out, so that closing the client ends a
 * pending wait at once.
 *
 * @module
 */
import type { Timers } from "./client_options.ts";

/** Options of {@linkcode ReconnectBackoff}. */
export interface ReconnectBackoffOptions {
  /** First backoff, ms. */
  minDelayMs: number;
  /** Largest backoff, ms. */
  maxDelayMs: number;
  /** Random source in [0, 1) for the jitter. */
  random: () => number;
  /** Timer functions. */
  timers: Timers;
}

/** Backoff delays and the pause between reconnect rounds. */
export class ReconnectBackoff {
  readonly #options: ReconnectBackoffOptions;
  #sleep?: { handle: unknown; resolve: () => void };

  /** Builds a backoff; nothing waits until {@linkcode ReconnectBackoff.pause}. */
  constructor(options: ReconnectBackoffOptions) {
    this.#options = options;
  }

  /** The wait after `failures` failed rounds: `min · 2^failures` capped at `max`, jittered into its upper half. */
  delay(failures: number): number {
    const { minDelayMs, maxDelayMs, random } = this.#options;
    const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(failures, 30));
    return base / 2 + random() * (base / 2);
  }

  /** Resolves after `ms` (or at once when {@linkcode ReconnectBackoff.cancel} is called). */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#options.timers.setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, ms);
      this.#sleep = { handle, resolve };
    });
  }

  /** Ends the pending pause now (the client is closing). */
  cancel(): void {
    if (this.#sleep === undefined) return;
    this.#options.timers.clearTimeout(this.#sleep.handle);
    this.#sleep.resolve();
    this.#sleep = undefined;
  }
}
