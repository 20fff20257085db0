/**
 * The simulator's deterministic core: a virtual clock with a timer queue, a
 * seeded random source, and nodes (brokers, clients) whose timers can be
 * dropped (crash) or held back (freeze).
 *
 * Real time never passes: nothing here calls the platform's timers. The
 * event loop pops the earliest timer, advances the virtual time to it, runs
 * it, and then lets the promise chains it started settle by yielding to the
 * microtask queue a fixed number of times. Microtasks run in a deterministic
 * order, so one seed always gives the same run.
 *
 * @module
 */
import type { Clock } from "../../clock.ts";
import { seededRandom } from "../../storage/faulty_store.ts";

/** A seeded random source with the helpers the simulator needs. */
export class Rng {
  readonly #next: () => number;

  /** A source seeded with `seed` (mulberry32). */
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.#next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }

  /** An independent source derived from this one (so adding draws elsewhere does not shift it). */
  fork(): Rng {
    return new Rng(Math.floor(this.#next() * 2 ** 32));
  }

  /** A deterministic UUID-shaped string. */
  uuid(): string {
    const hex = () => Math.floor(this.#next() * 2 ** 32).toString(16).padStart(8, "0");
    const a = hex() + hex() + hex() + hex();
    return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-8${a.slice(17, 20)}-${
      a.slice(20, 32)
    }`;
  }
}

/** Something that runs code: a broker incarnation, a client, the store. Its timers obey its fate. */
export class SimNode {
  /** Once set, the node's timers and deliveries never run again. */
  crashed = false;
  /** While the virtual time is below this, the node's timers and deliveries wait. */
  frozenUntil = 0;

  /** A node called `name` (for traces). */
  constructor(readonly name: string) {}
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  node: SimNode | undefined;
  cancelled: boolean;
}

/** How many microtask turns the loop yields after each timer. */
const SETTLE_TURNS = 64;

/** The virtual time and the timer queue. */
export class Scheduler {
  #now: number;
  #seq = 0;
  #heap: Timer[] = [];
  #steps = 0;

  /** Starts at `start` (epoch ms). */
  constructor(start: number) {
    this.#now = start;
  }

  /** The virtual time, epoch ms. */
  get now(): number {
    return this.#now;
  }

  /** Timers run so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Timers waiting. */
  get pending(): number {
    return this.#heap.length;
  }

  /** Runs `fn` at `now + ms` (as `node`, whose crash drops it and whose freeze delays it). */
  after(ms: number, fn: () => void, node?: SimNode): Timer {
    const timer: Timer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      node,
      cancelled: false,
    };
    if (node?.crashed) {
      timer.cancelled = true;
      return timer;
    }
    this.#push(timer);
    return timer;
  }

  /** Cancels a timer from {@linkcode after}. */
  cancel(timer: unknown): void {
    if (timer !== undefined && timer !== null) (timer as Timer).cancelled = true;
  }

  /** A {@linkcode Clock} whose timers belong to `node`, reading `offsetMs` ahead of the virtual time. */
  clockFor(node: SimNode, offsetMs = 0): Clock {
    return {
      now: () => this.#now + offsetMs,
      setTimeout: (fn, ms) => this.after(ms, fn, node),
      clearTimeout: (handle) => this.cancel(handle),
    };
  }

  /** Lets pending promise chains run (no virtual time passes). */
  async settle(turns = SETTLE_TURNS): Promise<void> {
    for (let i = 0; i < turns; i++) await Promise.resolve();
  }

  /**
   * Runs timers in virtual-time order until `until` (epoch ms) or until
   * `stop()` says so (checked after every timer). Returns false when the
   * queue ran dry first.
   */
  async run(until: number, stop: () => boolean = () => false): Promise<boolean> {
    await this.settle();
    while (this.#heap.length > 0) {
      const timer = this.#heap[0];
      if (timer.at > until) break;
      this.#pop();
      if (timer.cancelled) continue;
      const node = timer.node;
      if (node?.crashed) continue;
      if (timer.at > this.#now) this.#now = timer.at;
      if (node !== undefined && node.frozenUntil > this.#now) {
        timer.at = node.frozenUntil;
        timer.seq = this.#seq++;
        this.#push(timer);
        continue;
      }
      this.#steps++;
      timer.fn();
      await this.settle();
      if (stop()) return true;
    }
    if (this.#heap.length === 0) return false;
    this.#now = Math.max(this.#now, until);
    return true;
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  #pop(): Timer {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#less(heap[l], heap[m])) m = l;
        if (r < heap.length && this.#less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
}
