/**
 * Reading a queue's state without taking part in it: what `osqueue inspect`,
 * tests and tools use. Reads the head, the checkpoint and the log tail (or a
 * version-1 state object) and writes nothing.
 *
 * @module
 */
import type { ObjectStore } from "../storage/types.ts";
import type { QueueState } from "../core/state.ts";
import type { Head, Manifest } from "./head.ts";
import { StateStore } from "./state_store.ts";

/** Options of {@linkcode readQueueState}. */
export interface ReadQueueStateOptions {
  /** Where the queue lives. */
  store: ObjectStore;
  /** The queue's key prefix (default ``). */
  prefix?: string;
  /** The head's key under the prefix (default `queue.json`). */
  headKey?: string;
}

/** A queue's state as stored, and how it is laid out. */
export interface QueueSnapshot {
  /** The head's full key. */
  key: string;
  /** The layout version: 2 (head + log + checkpoints) or 1 (one state object, before migration). */
  version: 1 | 2;
  /** The materialised state. */
  state: QueueState;
  /** The head (version 2). */
  head?: Head;
  /** The checkpoint's manifest, if there is one (version 2). */
  manifest?: Manifest | null;
  /** Log records after the checkpoint (version 2). */
  tail: number;
}

/**
 * Reads the queue's state; null when there is no queue at that prefix.
 *
 * @example
 * ```ts
 * import { readQueueState } from "./read_state.ts";
 * import { MemoryStore } from "../storage/memory_store.ts";
 *
 * const snapshot = await readQueueState({ store: new MemoryStore() });
 * console.log(snapshot); // null: no queue there yet
 * ```
 */
export async function readQueueState(
  options: ReadQueueStateOptions,
): Promise<QueueSnapshot | null> {
  const prefix = options.prefix ?? "";
  const headKey = options.headKey ?? "queue.json";
  const reader = new StateStore({
    store: options.store,
    prefix,
    headKey,
    identity: { id: "osqueue-reader" },
    now: () => Date.now(),
  });
  const opened = await reader.open();
  const key = prefix + headKey;
  if (opened.kind === "absent") return null;
  if (opened.kind === "v1") return { key, version: 1, state: opened.state, tail: 0 };
  const loaded = await reader.load(opened);
  return {
    key,
    version: 2,
    state: loaded.state,
    head: loaded.head,
    manifest: loaded.manifest,
    tail: loaded.tail,
  };
}
