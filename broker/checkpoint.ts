/**
 * Checkpoint I/O: writing the materialised state as segment objects plus a
 * manifest, and reading it back. A checkpoint writes only the segments whose
 * jobs changed since the previous checkpoint; the others keep their objects,
 * which the new manifest names again. Objects are immutable: every write goes
 * to a new key, so a reader of an older manifest is never disturbed until
 * garbage collection (see `checkpointer.ts`) deletes what no recent manifest
 * names.
 *
 * @module
 */
import type { ObjectStore } from "../storage/types.ts";
import type { QueueState } from "../core/state.ts";
import {
  changedSegments,
  decodeSegment,
  encodeSegment,
  segmentJobs,
  stateFromSegments,
} from "../core/segments.ts";
import type { Job } from "../protocol/operations.ts";
import {
  type ArchiveRef,
  decodeManifest,
  encodeManifest,
  type Manifest,
  manifestKey,
  segmentKey,
} from "./head.ts";
import { InvalidError } from "../errors.ts";

/** A checkpoint or segment object the head referred to is gone (garbage-collected under a slow reader). */
export class MissingObjectError extends InvalidError {
  /** The missing key. */
  readonly key: string;
  /** Builds the error for `key`. */
  constructor(key: string) {
    super(`state object ${key} is missing`);
    this.key = key;
  }
}

/** How many objects a checkpoint reads or writes at once. */
const PARALLEL = 16;

/** Options of {@linkcode writeCheckpoint}. */
export interface WriteCheckpointOptions {
  /** Where to write. */
  store: ObjectStore;
  /** The queue's key prefix. */
  prefix: string;
  /** The state to write; its `commit` is the checkpoint's sequence number. */
  state: QueueState;
  /** The writer's epoch (part of every key, so writers never collide). */
  epoch: number;
  /** The previous checkpoint (its state and manifest), whose unchanged segments are reused. */
  previous: { state: QueueState; manifest: Manifest } | null;
  /** The archive index to keep in the manifest. */
  archives: ArchiveRef[];
}

/** What {@linkcode writeCheckpoint} wrote. */
export interface WrittenCheckpoint {
  /** The manifest's key. */
  key: string;
  /** The manifest. */
  manifest: Manifest;
  /** Bytes written (segments and manifest). */
  bytes: number;
  /** Segment objects written. */
  segmentsWritten: number;
}

/**
 * Writes the segments of `state` that changed since `previous`, then the
 * manifest. Does not touch the head: the caller installs the checkpoint.
 */
export async function writeCheckpoint(options: WriteCheckpointOptions): Promise<WrittenCheckpoint> {
  const { store, prefix, state, epoch, previous } = options;
  const seq = state.commit;
  const reused = new Map<number, Manifest["segments"][number]>();
  for (const entry of previous?.manifest.segments ?? []) reused.set(entry.segment, entry);
  const changed = changedSegments(previous?.state, state);
  let bytes = 0;
  const writes: { segment: number; jobs: Job[] }[] = [];
  for (const segment of changed) {
    const jobs = segmentJobs(state, segment);
    reused.delete(segment);
    if (jobs.length > 0) writes.push({ segment, jobs });
  }
  const written = await parallel(writes, async ({ segment, jobs }) => {
    const key = segmentKey(prefix, segment, seq, epoch);
    const body = encodeSegment(segment, jobs);
    bytes += body.length;
    await store.put(key, body);
    return { segment, key, jobs: jobs.length, bytes: body.length };
  });
  const segments = [...reused.values(), ...written].sort((x, y) => x.segment - y.segment);
  const manifest: Manifest = {
    seq,
    epoch: state.epoch,
    leader: state.leader,
    nextSeq: state.nextSeq,
    totals: { ...state.totals },
    segments,
    archives: options.archives,
    extra: { ...state.extra },
  };
  const key = manifestKey(prefix, seq, epoch);
  const body = encodeManifest(manifest);
  bytes += body.length;
  await store.put(key, body);
  return { key, manifest, bytes, segmentsWritten: written.length };
}

/**
 * Reads the manifest at `key` and its segments (in parallel) into a state.
 * Throws {@linkcode MissingObjectError} when an object is gone.
 */
export async function loadCheckpoint(
  options: { store: ObjectStore; key: string },
): Promise<{ state: QueueState; manifest: Manifest }> {
  const { store, key } = options;
  const found = await store.get(key);
  if (found === null) throw new MissingObjectError(key);
  const manifest = decodeManifest(found.body, key);
  const segments = await parallel(manifest.segments, async (entry) => {
    const body = await store.get(entry.key);
    if (body === null) throw new MissingObjectError(entry.key);
    return decodeSegment(body.body, entry.segment, entry.key);
  });
  const state = stateFromSegments(segments, {
    epoch: manifest.epoch,
    commit: manifest.seq,
    leader: manifest.leader,
    nextSeq: manifest.nextSeq,
    totals: manifest.totals,
    extra: manifest.extra,
  });
  return { state, manifest };
}

/** Maps `items` through `fn`, at most {@linkcode PARALLEL} at a time, keeping the order. */
export async function parallel<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = PARALLEL,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}
