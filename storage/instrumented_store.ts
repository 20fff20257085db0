/**
 * An {@linkcode ObjectStore} wrapper that times every call and reports it to
 * an observer, e.g. to feed store-latency histograms. Behaves exactly like
 * the store it wraps (same results, same errors).
 *
 * ```ts
 * import { InstrumentedStore, MemoryStore } from "./mod.ts";
 *
 * const store = new InstrumentedStore({
 *   store: new MemoryStore(),
 *   observe: ({ op, ms, ok }) => console.log(op, ms, ok),
 * });
 * await store.put("a", new Uint8Array([1]));
 * ```
 *
 * @module
 */
import type { ObjectStore, PutOptions, ReadOptions, StoredObject } from "./types.ts";

/** One timed store call. */
export interface StoreCall {
  /** Which method. */
  op: "get" | "put" | "delete" | "list";
  /** The key (or, for `list`, the prefix). */
  key: string;
  /** How long it took, ms. */
  ms: number;
  /** Whether it resolved (a `get` of a missing key resolves). */
  ok: boolean;
  /** The error's `code` when it rejected with one (e.g. `conflict`). */
  code?: string;
  /** For `put`, whether it was conditional (a compare-and-swap). */
  conditional?: boolean;
}

/** Options of {@linkcode InstrumentedStore}. */
export interface InstrumentedStoreOptions {
  /** The store to wrap. */
  store: ObjectStore;
  /** Receives every call once it settles. */
  observe: (call: StoreCall) => void;
  /** Monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** Times each call of the wrapped store and reports it (see the module doc). */
export class InstrumentedStore implements ObjectStore {
  readonly #store: ObjectStore;
  readonly #observe: (call: StoreCall) => void;
  readonly #now: () => number;

  /** Wraps `options.store`. */
  constructor(options: InstrumentedStoreOptions) {
    this.#store = options.store;
    this.#observe = options.observe;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The wrapped store's description. */
  get description(): string {
    return this.#store.description;
  }

  /** {@inheritDoc ObjectStore.get} */
  get(key: string, options?: ReadOptions): Promise<StoredObject | null> {
    return this.#timed({ op: "get", key }, () => this.#store.get(key, options));
  }

  /** {@inheritDoc ObjectStore.put} */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<string> {
    return this.#timed(
      { op: "put", key, conditional: options?.condition !== undefined },
      () => this.#store.put(key, body, options),
    );
  }

  /** {@inheritDoc ObjectStore.delete} */
  delete(key: string): Promise<void> {
    return this.#timed({ op: "delete", key }, () => this.#store.delete(key));
  }

  /** {@inheritDoc ObjectStore.list} */
  list(prefix: string, options?: ReadOptions): Promise<string[]> {
    return this.#timed({ op: "list", key: prefix }, () => this.#store.list(prefix, options));
  }

  async #timed<T>(
    call: Pick<StoreCall, "op" | "key" | "conditional">,
    run: () => Promise<T>,
  ): Promise<T> {
    const start = this.#now();
    try {
      const result = await run();
      this.#report({ ...call, ms: this.#now() - start, ok: true });
      return result;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      this.#report({
        ...call,
        ms: this.#now() - start,
        ok: false,
        ...(typeof code === "string" ? { code } : {}),
      });
      throw error;
    }
  }

  #report(call: StoreCall): void {
    if (call.conditional === undefined) delete call.conditional;
    try {
      this.#observe(call);
    } catch {
      // An observer's bug must not turn a landed write into a failed one.
    }
  }
}
