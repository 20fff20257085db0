/**
 * A read-increment-CAS counter on an {@linkcode ObjectStore}: the workload of
 * the conformance suite's lost-update case, the multi-process test and the
 * fault tests. Each increment carries an id, so a lost or doubled update shows.
 * Test-only: excluded from publishing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AmbiguousWriteError, ConflictError, UnavailableError } from "../errors.ts";
import type { ObjectStore } from "./types.ts";

/** The body of a counter object: its value and the ids of the increments applied, in order. */
export interface CounterState {
  /** How many increments landed. */
  count: number;
  /** The id of every increment that landed; each id exactly once if the store is correct. */
  applied: string[];
}

/** What an increment loop had to go through. */
export interface CounterStats {
  /** Conditional puts sent. */
  attempts: number;
  /** `ConflictError`s received (retried). */
  conflicts: number;
  /** `AmbiguousWriteError`s received (resolved by re-reading). */
  ambiguous: number;
  /** `UnavailableError`s received (retried after a short pause). */
  unavailable: number;
}

/** Options of {@linkcode incrementCounter}. */
export interface IncrementOptions {
  /** Gives up (throws) after this many attempts (default 10 000): a broken store must not hang a test. */
  maxAttempts?: number;
  /** Pause before retrying after `UnavailableError`, in ms (default 1). */
  retryDelayMs?: number;
}

/** Options of {@linkcode runCounterWriters}. */
export interface CounterWritersOptions extends IncrementOptions {
  /** Concurrent writers. */
  writers: number;
  /** Increments per writer. */
  rounds: number;
  /** Prefix of the increment ids, to tell processes apart (default `w`). */
  idPrefix?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a counter body. */
export function encodeCounter(state: CounterState): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

/** Decodes a counter body (or `null`, meaning zero). */
export function decodeCounter(body: Uint8Array | null): CounterState {
  if (body === null) return { count: 0, applied: [] };
  const parsed = JSON.parse(decoder.decode(body)) as CounterState;
  assert.equal(typeof parsed.count, "number");
  assert.ok(Array.isArray(parsed.applied));
  return parsed;
}

/** Reads the counter at `key` (zero when missing). */
export async function readCounter(store: ObjectStore, key: string): Promise<CounterState> {
  return decodeCounter((await store.get(key))?.body ?? null);
}

/**
 * Applies increment `id` to the counter at `key` exactly once: read, add one,
 * write with `ifMatch` (or `ifNoneMatch: "*"` when missing); on `ConflictError`
 * read again; on `AmbiguousWriteError` read again and stop if `id` is already
 * applied; on `UnavailableError` pause and retry.
 */
export async function incrementCounter(
  store: ObjectStore,
  key: string,
  id: string,
  options: IncrementOptions = {},
): Promise<CounterStats> {
  const maxAttempts = options.maxAttempts ?? 10_000;
  const retryDelayMs = options.retryDelayMs ?? 1;
  const stats: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
  while (true) {
    if (stats.attempts >= maxAttempts) {
      throw new Error(`increment ${id} gave up after ${maxAttempts} attempts`);
    }
    let current;
    try {
      current = await store.get(key);
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      stats.unavailable++;
      await sleep(retryDelayMs);
      continue;
    }
    const state = decodeCounter(current?.body ?? null);
    if (state.applied.includes(id)) return stats; // an ambiguous write of ours landed
    const next = { count: state.count + 1, applied: [...state.applied, id] };
    stats.attempts++;
    try {
      await store.put(key, encodeCounter(next), {
        condition: current === null ? { ifNoneMatch: "*" } : { ifMatch: current.etag },
      });
      return stats;
    } catch (error) {
      if (error instanceof ConflictError) stats.conflicts++;
      else if (error instanceof AmbiguousWriteError) stats.ambiguous++;
      else if (error instanceof UnavailableError) {
        stats.unavailable++;
        await sleep(retryDelayMs);
      } else throw error;
    }
  }
}

/**
 * Runs `writers` concurrent loops of `rounds` increments each on the counter at
 * `key` (ids `${idPrefix}${writer}:${round}`) and sums their stats.
 */
export async function runCounterWriters(
  store: ObjectStore,
  key: string,
  options: CounterWritersOptions,
): Promise<CounterStats> {
  const idPrefix = options.idPrefix ?? "w";
  const perWriter = await Promise.all(
    Array.from({ length: options.writers }, async (_, writer) => {
      const total: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
      for (let round = 0; round < options.rounds; round++) {
        addStats(
          total,
          await incrementCounter(store, key, `${idPrefix}${writer}:${round}`, options),
        );
      }
      return total;
    }),
  );
  const total: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
  for (const stats of perWriter) addStats(total, stats);
  return total;
}

/** Asserts that the counter holds exactly `expected` increments, each applied once. */
export function assertCounter(state: CounterState, expected: number): void {
  assert.equal(state.applied.length, state.count, "count and applied ids disagree");
  assert.equal(new Set(state.applied).size, state.applied.length, "an increment was applied twice");
  assert.equal(state.count, expected, "lost or extra updates");
}

function addStats(into: CounterStats, from: CounterStats): void {
  into.attempts += from.attempts;
  into.conflicts += from.conflicts;
  into.ambiguous += from.ambiguous;
  into.unavailable += from.unavailable;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
