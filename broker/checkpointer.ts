/**
 * Background checkpoints and garbage collection for the leader.
 *
 * After enough log has accumulated, the leader writes a checkpoint of its
 * committed state (only the segments that changed) without blocking commits,
 * then points the head at it with compare-and-swap. The policy keeps the
 * bytes a checkpoint writes below the log bytes written since the last one
 * (so checkpoints at most double the write volume), and bounds the log tail
 * a restart must read.
 *
 * Garbage collection keeps two generations: after checkpoint `k` is
 * installed, objects only checkpoint `k-2` named, and log records up to
 * checkpoint `k-1`, are deleted. A reader that read the head at `k-1` or `k`
 * finds everything it needs; a slower one gets a missing object and starts
 * over from the head (`state_store.ts`). Deletes happen only after the head
 * CAS succeeded, so a deposed leader never deletes anything.
 *
 * @module
 */
import type { QueueState } from "../core/state.ts";
import { changedSegments, jobsInSegments } from "../core/segments.ts";

/** A typical stored job's size, to estimate a checkpoint's bytes (pacing only). */
const BYTES_PER_JOB = 250;
import { logKey, logSeqOf } from "./log_record.ts";
import { type ArchiveRef, checkpointSeqOfKey, type Manifest } from "./head.ts";
import { parallel, writeCheckpoint } from "./checkpoint.ts";
import type { LoadedState, StateStore } from "./state_store.ts";

/** Options of {@linkcode Checkpointer}. */
export interface CheckpointerOptions {
  /** The leader's state store. */
  stateStore: StateStore;
  /** The current time, epoch ms. */
  now: () => number;
  /** Fewest log records between checkpoints (default 32). */
  minRecords?: number;
  /** Most log records between checkpoints: bounds what a restart reads (default 4096). */
  maxRecords?: number;
  /** Least time between checkpoints (default 1 s). */
  minIntervalMs?: number;
  /** The archive index to record in the manifest. */
  archives: () => ArchiveRef[];
  /** Resolves once every archive object asked for by records up to `seq` is written. */
  flushArchives: (seq: number) => Promise<void>;
  /** Called when the head changed under the leader: it has been deposed. */
  onDeposed: () => void;
  /** Receives structured events. */
  log?: (event: { event: string; [field: string]: unknown }) => void;
}

function segmentBytes(manifest: Manifest | null): number {
  let bytes = 0;
  for (const entry of manifest?.segments ?? []) bytes += entry.bytes;
  return bytes;
}

interface Generation {
  seq: number;
  key: string;
  manifest: Manifest;
}

/** Counters of checkpoint work, for metrics and benchmarks. */
export interface CheckpointerMetrics {
  /** Checkpoints installed. */
  checkpoints: number;
  /** Bytes of segments and manifests written. */
  bytes: number;
  /** Objects deleted by garbage collection. */
  deleted: number;
}

/** Writes checkpoints in the background and collects garbage. */
export class Checkpointer {
  readonly #options: CheckpointerOptions;
  readonly #minRecords: number;
  readonly #maxRecords: number;
  readonly #minIntervalMs: number;
  readonly #log: (event: { event: string; [field: string]: unknown }) => void;
  /** The installed checkpoint's state (its chunks tell what changed since). */
  #base: QueueState | undefined;
  #current: Generation | null = null;
  #previous: Generation | null = null;
  #swept = false;
  #recordsSince = 0;
  #lastSeq = 0;
  #bytesSince = 0;
  #checkpointBytes = 0;
  #lastAt = 0;
  #nextEstimateAt = 0;
  #running: Promise<void> | undefined;
  /** Bumped by every reset: a checkpoint of an earlier leadership leaves the books alone. */
  #generation = 0;
  #stopped = false;
  #metrics: CheckpointerMetrics = { checkpoints: 0, bytes: 0, deleted: 0 };

  /** Builds a checkpointer; call {@linkcode Checkpointer.reset} when leadership starts. */
  constructor(options: CheckpointerOptions) {
    this.#options = options;
    this.#minRecords = options.minRecords ?? 32;
    this.#maxRecords = options.maxRecords ?? 4096;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#log = options.log ?? (() => {});
  }

  /** A snapshot of the counters. */
  get metrics(): CheckpointerMetrics {
    return { ...this.#metrics };
  }

  /**
   * The state's size as stored: the installed checkpoint's segments plus the
   * log written since (what a restart reads). `maxStateBytes` is checked against it.
   */
  stateBytes(): number {
    return this.#checkpointBytes + this.#bytesSince;
  }

  /** Whether a checkpoint is being written. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Starts over from what a (re)load found: its checkpoint and the log tail after it. */
  reset(loaded: LoadedState): void {
    this.#generation++;
    this.#base = loaded.base;
    this.#current = loaded.manifest === null || loaded.head.checkpoint === null
      ? null
      : { seq: loaded.manifest.seq, key: loaded.head.checkpoint.key, manifest: loaded.manifest };
    this.#previous = null;
    this.#swept = false;
    this.#recordsSince = loaded.tail;
    this.#checkpointBytes = segmentBytes(loaded.manifest);
    this.#lastSeq = loaded.state.commit;
    this.#bytesSince = loaded.tailBytes;
    this.#nextEstimateAt = 0;
    this.#stopped = false;
  }

  /** Notes a landed commit of `bytes`; starts a checkpoint of `state` when one is due. */
  noteCommit(bytes: number, state: QueueState): void {
    this.#recordsSince++;
    this.#lastSeq = state.commit;
    this.#bytesSince += bytes;
    if (this.#running !== undefined || this.#stopped) return;
    if (!this.#due(state)) return;
    this.#running = this.#run(state).finally(() => this.#running = undefined);
  }

  /** Whether a quiet broker should checkpoint: records since the last one, none being written. */
  get wantsIdle(): boolean {
    return this.#running === undefined && !this.#stopped && this.#recordsSince > 0;
  }

  /**
   * The broker is quiet: checkpoint now whatever the log's size (so that a
   * bulk load is checkpointed in the pause after it, and a restart reads
   * little), unless one ran less than the minimum interval ago.
   */
  idle(state: QueueState): void {
    if (!this.wantsIdle || state.commit !== this.#lastSeq) return;
    if (this.#options.now() - this.#lastAt < this.#minIntervalMs) return;
    this.#running = this.#run(state).finally(() => this.#running = undefined);
  }

  /** Waits for the checkpoint in progress, if any, and takes no new ones. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  #due(state: QueueState): boolean {
    if (this.#recordsSince < this.#minRecords) return false;
    if (this.#options.now() - this.#lastAt < this.#minIntervalMs) return false;
    if (this.#recordsSince >= this.#maxRecords) return true;
    // Estimating the checkpoint's size costs O(chunks): do it only as the log grows.
    if (this.#bytesSince < this.#nextEstimateAt) return false;
    const changed = changedSegments(this.#base, state);
    const estimate = jobsInSegments(state, changed) * BYTES_PER_JOB;
    if (this.#bytesSince >= estimate) return true;
    this.#nextEstimateAt = Math.max(this.#bytesSince * 2, estimate / 2);
    return false;
  }

  async #run(state: QueueState): Promise<void> {
    const store = this.#options.stateStore;
    const seq = state.commit;
    // The leadership this checkpoint belongs to: it is installed only in it.
    const epoch = store.head.epoch;
    const generation = this.#generation;
    try {
      await this.#options.flushArchives(seq);
      const written = await writeCheckpoint({
        store: store.store,
        prefix: store.prefix,
        state,
        epoch,
        previous: this.#current === null || this.#base === undefined
          ? null
          : { state: this.#base, manifest: this.#current.manifest },
        archives: this.#options.archives(),
      });
      const installed = await store.installCheckpoint({ seq, key: written.key }, epoch);
      if (generation !== this.#generation) return; // a newer leadership took over this checkpointer
      if (!installed) {
        this.#log({ event: "checkpoint-deposed", seq });
        this.#stopped = true;
        this.#options.onDeposed();
        return;
      }
      this.#metrics.checkpoints++;
      this.#metrics.bytes += written.bytes;
      this.#log({
        event: "checkpoint",
        seq,
        bytes: written.bytes,
        segmentsWritten: written.segmentsWritten,
        segments: written.manifest.segments.length,
        records: this.#recordsSince,
      });
      const older = this.#previous;
      this.#previous = this.#current;
      this.#current = { seq, key: written.key, manifest: written.manifest };
      this.#base = state;
      this.#checkpointBytes = segmentBytes(written.manifest);
      this.#recordsSince = this.#lastSeq - seq;
      this.#bytesSince = 0;
      this.#nextEstimateAt = 0;
      this.#lastAt = this.#options.now();
      await this.#collect(older);
    } catch (error) {
      this.#log({ event: "checkpoint-error", seq, error: String(error) });
      if (generation === this.#generation) this.#lastAt = this.#options.now();
    }
  }

  /** Deletes what only `older` (checkpoint k-2) named, and log records up to k-1. */
  async #collect(older: Generation | null): Promise<void> {
    const previous = this.#previous;
    const current = this.#current!;
    if (previous === null) return; // the first checkpoint of this leadership: keep everything
    const keep = new Set<string>([previous.key, current.key]);
    for (const gen of [previous, current]) {
      for (const entry of gen.manifest.segments) keep.add(entry.key);
    }
    const store = this.#options.stateStore.store;
    const prefix = this.#options.stateStore.prefix;
    const doomed: string[] = [];
    if (older !== null && this.#swept) {
      if (!keep.has(older.key)) doomed.push(older.key);
      for (const entry of older.manifest.segments) if (!keep.has(entry.key)) doomed.push(entry.key);
      for (let seq = older.seq + 1; seq <= previous.seq; seq++) {
        doomed.push(logKey(prefix, seq));
      }
    } else {
      // After a (re)start the older generations are unknown: sweep by listing.
      this.#swept = true;
      for (const folder of ["segments/", "checkpoints/"]) {
        for (const key of await store.list(prefix + folder)) {
          const seq = checkpointSeqOfKey(key);
          if (seq !== undefined && seq < previous.seq && !keep.has(key)) doomed.push(key);
        }
      }
      for (const key of await store.list(prefix + "log/")) {
        const seq = logSeqOf(prefix, key);
        if (seq !== undefined && seq <= previous.seq) doomed.push(key);
      }
    }
    await parallel(doomed, async (key) => {
      try {
        await store.delete(key);
        this.#metrics.deleted++;
      } catch (error) {
        this.#log({ event: "gc-error", key, error: String(error) });
      }
    });
    if (doomed.length > 0) this.#log({ event: "gc", deleted: doomed.length });
  }
}
