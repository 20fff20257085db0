/**
 * Who watches the broker's job events: listeners called with the events of
 * each landed commit, derived purely by `core/job_events.ts`.
 *
 * @module
 */
import type { JobChange } from "../core/apply.ts";
import { jobEvents } from "../core/job_events.ts";
import type { QueueState } from "../core/state.ts";
import type { JobEvent } from "../protocol/backend.ts";

/** The listeners of one broker's job events. */
export class JobWatchers {
  readonly #listeners = new Set<(events: JobEvent[]) => void>();
  readonly #onError: (error: unknown) => void;

  /** `onError` hears what a listener throws (the other listeners are still called). */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Whether anyone listens (events are only derived then). */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (events: JobEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener the job events of the commit that turned `before` into `after`. */
  tell(before: QueueState, after: QueueState, changes: ReadonlyMap<number, JobChange>): void {
    const events = jobEvents(before, after, changes);
    if (events.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(events);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
