/**
 * {@linkcode Settler}: sends a worker's complete/fail/release calls and
 * tracks them until answered, repeating those lost to the transport.
 *
 * @module
 */
import type { ClaimedJob } from "../protocol/operations.ts";
import type { WorkerLog } from "./worker_options.ts";

/** Attempts at a complete/fail/release before giving up (the lease then runs out). */
export const SETTLE_ATTEMPTS = 3;

/** Transport failures after which a complete/fail/release is worth repeating. */
const RETRY_CODES = new Set(["disconnected", "timeout", "unavailable", "overloaded"]);

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : String(error);
}

/** Tracks a worker's complete/fail/release calls until each is answered. */
export class Settler {
  readonly #log: WorkerLog;
  readonly #settling = new Set<Promise<unknown>>();

  /** Creates a settler that logs through `log`. */
  constructor(log: WorkerLog) {
    this.#log = log;
  }

  /**
   * Sends a complete/fail/release and tracks it until answered. A transport
   * failure (`disconnected`, `timeout`, …) is retried up to twice: these are
   * safe to repeat, since a repeat of one that had landed just answers
   * `lease_lost`.
   */
  settle(send: () => Promise<unknown>, job: ClaimedJob, what: string): void {
    const attempt = async (): Promise<void> => {
      for (let tries = 1;; tries++) {
        try {
          await send();
          return;
        } catch (error) {
          const code = (error as { code?: unknown } | null)?.code;
          if (tries > 1 && code === "lease_lost") {
            this.#log("debug", `${what} had already landed`, { jobId: job.id });
            return;
          }
          if (tries >= SETTLE_ATTEMPTS || typeof code !== "string" || !RETRY_CODES.has(code)) {
            this.#log("warn", `${what} failed`, { jobId: job.id, error: messageOf(error) });
            return;
          }
        }
      }
    };
    const tracked = attempt().finally(() => this.#settling.delete(tracked));
    this.#settling.add(tracked);
  }

  /** Resolves once every call sent so far (and any sent meanwhile) has been answered. */
  async settled(): Promise<void> {
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
  }
}
