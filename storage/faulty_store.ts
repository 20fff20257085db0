/**
 * A test double that wraps any {@linkcode ObjectStore} and injects latency,
 * transient errors, forced conflicts and ambiguous writes, and counts what
 * passes through it.
 *
 * ```ts ignore
 * import { FaultyStore, seededRandom } from "@osqueue/osqueue/testing";
 * import { MemoryStore, UnavailableError } from "@osqueue/osqueue";
 *
 * const store = new FaultyStore(new MemoryStore(), {
 *   latencyMs: 1,
 *   unavailableRate: { put: 0.1 },
 *   random: seededRandom(42),
 * });
 * store.failNext("get", new UnavailableError("injected"));
 * store.ambiguousNext({ lands: true }); // the next put lands, the caller hears "ambiguous"
 * ```
 *
 * @module
 */
import { AmbiguousWriteError, ConflictError, UnavailableError } from "../errors.ts";
import { validateKey, validateListWindow, validatePrefix } from "./keys.ts";
import type { ListOptions, ObjectStore, PutOptions, ReadOptions, StoredObject } from "./types.ts";

/** The store operations a fault can target. */
export type StoreOperation = "get" | "put" | "delete" | "list";

/** A probability in `0..1`, for every operation or per operation (missing ones are 0). */
export type FaultRate = number | Partial<Record<StoreOperation, number>>;

/** Options of {@linkcode FaultyStore}; every fault is off by default. */
export interface FaultyStoreOptions {
  /**
   * Delay before each call reaches the inner store, in ms: a constant or a
   * function of the call (e.g. random jitter from `random`). Default 0 (no timer at all).
   */
  latencyMs?: number | ((operation: StoreOperation, key: string) => number);
  /** Probability that a call fails with `UnavailableError` without reaching the inner store. */
  unavailableRate?: FaultRate;
  /** Probability that a *conditional* put fails with `ConflictError` without writing. */
  conflictRate?: number;
  /** Probability that a put (conditional or not) ends with `AmbiguousWriteError`. */
  ambiguousRate?: number;
  /** Of the ambiguous puts, the probability that the write lands anyway (default 0.5). */
  ambiguousLandsRate?: number;
  /** Source of randomness in `[0, 1)` (default `Math.random`); see {@linkcode seededRandom}. */
  random?: () => number;
  /** How to wait `ms` milliseconds (default `setTimeout`). */
  sleep?: (ms: number) => Promise<void>;
}

/** Counters of a {@linkcode FaultyStore}; calls count on entry, faulted or not. */
export interface FaultyStoreStats {
  /** `get` calls. */
  gets: number;
  /** `put` calls, conditional or not. */
  puts: number;
  /** `put` calls with a condition. */
  conditionalPuts: number;
  /** `delete` calls. */
  deletes: number;
  /** `list` calls. */
  lists: number;
  /** Puts started and not yet settled. */
  putsInFlight: number;
  /** The most puts ever in flight at once. */
  maxPutsInFlight: number;
  /** Faults injected (scripted or random). */
  faults: number;
}

/** A scripted fault, consumed by the next call of its operation. */
type ScriptedFault = { error: Error } | { ambiguous: { lands: boolean } };

const ZERO_STATS: FaultyStoreStats = {
  gets: 0,
  puts: 0,
  conditionalPuts: 0,
  deletes: 0,
  lists: 0,
  putsInFlight: 0,
  maxPutsInFlight: 0,
  faults: 0,
};

/**
 * Wraps an {@linkcode ObjectStore} for tests. Each call, in order: validates
 * its key (so bad keys always get `InvalidError`), counts, waits while its
 * operation is paused, sleeps `latencyMs`, then fails with the next scripted
 * fault of its operation if any, else with a random fault per the rates, else
 * passes through to the inner store.
 */
export class FaultyStore implements ObjectStore {
  #inner: ObjectStore;
  #options: FaultyStoreOptions;
  #random: () => number;
  #sleep: (ms: number) => Promise<void>;
  #stats: FaultyStoreStats = { ...ZERO_STATS };
  #scripted = new Map<StoreOperation, ScriptedFault[]>();
  #paused = new Map<StoreOperation, PromiseWithResolvers<void>>();

  /** `faulty(<inner description>)`. */
  readonly description: string;

  /** Wraps `inner`; with no options it is a transparent counting proxy. */
  constructor(inner: ObjectStore, options: FaultyStoreOptions = {}) {
    this.#inner = inner;
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ??
      ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.description = `faulty(${inner.description})`;
  }

  /** The wrapped store (to inspect or change state behind the faults). */
  get inner(): ObjectStore {
    return this.#inner;
  }

  /** A snapshot of the counters. */
  get stats(): FaultyStoreStats {
    return { ...this.#stats };
  }

  /** Zeroes the counters (puts still in flight stay counted in `putsInFlight`). */
  resetStats(): void {
    this.#stats = { ...ZERO_STATS, putsInFlight: this.#stats.putsInFlight };
  }

  /** The next call of `operation` throws `error` without reaching the inner store. Calls queue up. */
  failNext(operation: StoreOperation, error: Error): void {
    this.#script(operation, { error });
  }

  /**
   * The next put throws `AmbiguousWriteError`; with `lands: true` it first
   * writes through to the inner store (if its condition holds), with
   * `lands: false` it writes nothing.
   */
  ambiguousNext(options: { lands: boolean }): void {
    this.#script("put", { ambiguous: { lands: options.lands } });
  }

  /**
   * Holds the calls of `operation` that arrive from now on (before their
   * latency and faults; puts count as in flight) until {@linkcode resume}.
   */
  pause(operation: StoreOperation): void {
    if (!this.#paused.has(operation)) this.#paused.set(operation, Promise.withResolvers<void>());
  }

  /** Releases the calls held by {@linkcode pause}. */
  resume(operation: StoreOperation): void {
    this.#paused.get(operation)?.resolve();
    this.#paused.delete(operation);
  }

  /** Reads through the faults. */
  async get(key: string, options?: ReadOptions): Promise<StoredObject | null> {
    validateKey(key);
    this.#stats.gets++;
    await this.#before("get", key);
    return await this.#inner.get(key, options);
  }

  /** Writes through the faults; counts puts in flight. */
  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<string> {
    validateKey(key);
    this.#stats.puts++;
    if (options.condition !== undefined) this.#stats.conditionalPuts++;
    this.#stats.putsInFlight++;
    this.#stats.maxPutsInFlight = Math.max(this.#stats.maxPutsInFlight, this.#stats.putsInFlight);
    try {
      const scripted = await this.#before("put", key);
      if (scripted !== undefined) return await this.#ambiguous(key, body, options, scripted.lands);
      if (options.condition !== undefined && this.#chance(this.#options.conflictRate)) {
        this.#stats.faults++;
        throw new ConflictError(`injected: conflict on ${key}`);
      }
      if (this.#chance(this.#options.ambiguousRate)) {
        this.#stats.faults++;
        const lands = this.#chance(this.#options.ambiguousLandsRate ?? 0.5);
        return await this.#ambiguous(key, body, options, lands);
      }
      return await this.#inner.put(key, body, options);
    } finally {
      this.#stats.putsInFlight--;
    }
  }

  /** Deletes through the faults. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    this.#stats.deletes++;
    await this.#before("delete", key);
    await this.#inner.delete(key);
  }

  /** Lists through the faults; the window options pass through to the inner store. */
  async list(prefix: string, options?: ListOptions): Promise<string[]> {
    validatePrefix(prefix);
    validateListWindow(options);
    this.#stats.lists++;
    await this.#before("list", prefix);
    return await this.#inner.list(prefix, options);
  }

  #script(operation: StoreOperation, fault: ScriptedFault): void {
    const queue = this.#scripted.get(operation) ?? [];
    queue.push(fault);
    this.#scripted.set(operation, queue);
  }

  /**
   * Pause, latency, then the scripted or random fault that throws. Returns a
   * scripted ambiguous outcome for the caller (puts) to act on.
   */
  async #before(operation: StoreOperation, key: string): Promise<{ lands: boolean } | undefined> {
    const paused = this.#paused.get(operation);
    if (paused !== undefined) await paused.promise;
    const latency = this.#options.latencyMs;
    const ms = typeof latency === "function" ? latency(operation, key) : latency ?? 0;
    if (ms > 0) await this.#sleep(ms);
    const scripted = this.#scripted.get(operation)?.shift();
    if (scripted !== undefined) {
      this.#stats.faults++;
      if ("error" in scripted) throw scripted.error;
      return scripted.ambiguous;
    }
    const rate = this.#options.unavailableRate;
    if (this.#chance(typeof rate === "object" ? rate[operation] : rate)) {
      this.#stats.faults++;
      throw new UnavailableError(`injected: ${operation} ${key} unavailable`);
    }
    return undefined;
  }

  async #ambiguous(
    key: string,
    body: Uint8Array,
    options: PutOptions,
    lands: boolean,
  ): Promise<never> {
    let cause: unknown;
    if (lands) {
      try {
        await this.#inner.put(key, body, options);
      } catch (error) {
        cause = error; // e.g. a real conflict: nothing landed, the caller still cannot know
      }
    }
    throw new AmbiguousWriteError(
      `injected: put ${key} outcome unknown (${lands && cause === undefined ? "landed" : "lost"})`,
      cause === undefined ? undefined : { cause },
    );
  }

  #chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.#random() < rate;
  }
}

/** A small deterministic random source (mulberry32) for fault injection in tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
