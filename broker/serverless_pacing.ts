/**
 * Fair turns between serverless instances writing one log. An instance at the
 * tip of the log that writes back to back wins every create-if-absent race:
 * the others must first read its record, and by then its next write is in
 * flight. So:
 *
 * - a loser (two conflicts in a row) rewrites a small marker object,
 *   `contention.json` (best effort, at most once per half polling interval);
 * - every instance reads the marker once per polling interval, and every
 *   100 ms while it is writing; a changed marker, a conflict, or records of
 *   another instance read from the log mark the others as active for 1 s;
 * - while the others are active, an instance leaves one to two writes'
 *   duration (randomised) between its own writes: its requests queue
 *   meanwhile and share the next write, and the others get a slot.
 *
 * @module
 */
import type { ObjectStore } from "../storage/types.ts";

/** How long the others count as active after a sign of them, ms. */
const OTHERS_ACTIVE_MS = 1000;
/** How often an instance that is writing reads the marker, ms. */
const BUSY_CHECK_MS = 100;

/** Options of {@linkcode ContentionPacer}. */
export interface ContentionPacerOptions {
  /** Where the marker lives. */
  store: ObjectStore;
  /** The queue's key prefix. */
  prefix: string;
  /** This instance's id (written into the marker, for people reading it). */
  instanceId: string;
  /** The current time, epoch ms. */
  now: () => number;
  /** Randomness in [0, 1). */
  random: () => number;
  /** The instance's polling interval, ms. */
  pollIntervalMs: number;
  /** The least time between two writes anyway (`minCommitIntervalMs`). */
  minCommitIntervalMs: number;
}

/** Decides how long an instance waits between its writes, and signals lost races. */
export class ContentionPacer {
  readonly #o: ContentionPacerOptions;
  readonly #key: string;
  #othersActiveUntil = 0;
  #checkedAt = 0;
  #etag: string | null | undefined;
  #signalledAt = 0;
  #lastLandedAt = 0;
  #lastWriteMs = 0;

  /** Builds a pacer. */
  constructor(options: ContentionPacerOptions) {
    this.#o = options;
    this.#key = `${options.prefix}contention.json`;
  }

  /** A write landed at `at` after `ms`. */
  landed(at: number, ms: number): void {
    this.#lastLandedAt = at;
    this.#lastWriteMs = ms;
  }

  /** Another instance showed itself (its records were read, or it took a sequence number first). */
  othersSeen(at: number): void {
    this.#othersActiveUntil = Math.max(this.#othersActiveUntil, at + OTHERS_ACTIVE_MS);
  }

  /** When this instance may write next. */
  nextWriteAt(): number {
    const min = this.#o.minCommitIntervalMs;
    if (this.#o.now() >= this.#othersActiveUntil) return this.#lastLandedAt + min;
    return this.#lastLandedAt + Math.max(min, this.#lastWriteMs * (1 + this.#o.random()));
  }

  /** Reads the marker when it is time (every 100 ms while writing, else once per poll). */
  async check(): Promise<void> {
    const now = this.#o.now();
    const busy = now - this.#lastLandedAt < this.#o.pollIntervalMs;
    const every = busy ? Math.min(BUSY_CHECK_MS, this.#o.pollIntervalMs) : this.#o.pollIntervalMs;
    if (now - this.#checkedAt < every) return;
    this.#checkedAt = now;
    const found = await this.#o.store.get(this.#key).catch(() => undefined);
    if (found === undefined) return;
    const etag = found?.etag ?? null;
    if (this.#etag !== undefined && etag !== this.#etag) this.othersSeen(now);
    this.#etag = etag;
  }

  /** This instance lost `losses` races in a row for one batch. */
  lost(losses: number): void {
    const now = this.#o.now();
    this.othersSeen(now);
    if (losses < 2 || now - this.#signalledAt < this.#o.pollIntervalMs / 2) return;
    this.#signalledAt = now;
    const body = new TextEncoder().encode(
      JSON.stringify({ instance: this.#o.instanceId, at: now }),
    );
    this.#o.store.put(this.#key, body).then((etag) => (this.#etag = etag), () => {});
  }
}
