/**
 * A state's jobs cut into segments for checkpoints: segment `k` holds the
 * jobs with sequence numbers in `[k × SEGMENT_SIZE, (k + 1) × SEGMENT_SIZE)`.
 * A checkpoint rewrites only the segments whose jobs changed since the last
 * one; unchanged segments keep their stored objects. Pure: encoding, decoding
 * and finding what changed; `broker/checkpoint.ts` does the I/O.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Job, JsonValue, QueueTotals } from "../protocol/operations.ts";
import { isObject, restoreJob, storedJob } from "./job_codec.ts";
import { parseJobId } from "./job_id.ts";
import { CHUNK_SIZE } from "./job_table.ts";
import type { BrokerIdentity, QueueState } from "./state.ts";
import { indexJobs, NO_EXTRA, StateData, stateData } from "./state_data.ts";

/** Sequence numbers per segment (a whole number of job-table chunks). */
export const SEGMENT_SIZE = 1024;
const CHUNKS_PER_SEGMENT = SEGMENT_SIZE / CHUNK_SIZE;

/** The `format` field of a segment object. */
export const SEGMENT_FORMAT = "osqueue-segment";

/** The segment holding sequence number `seq`. */
export function segmentOf(seq: number): number {
  return Math.floor(seq / SEGMENT_SIZE);
}

/**
 * The segments of `current` whose jobs differ from those of `previous` (all
 * non-empty segments when there is no previous), including segments that
 * became empty. Compares the job table's copy-on-write chunks by identity,
 * so it costs O(chunks), not O(jobs).
 */
export function changedSegments(previous: QueueState | undefined, current: QueueState): number[] {
  const now = stateData(current).jobs.chunks;
  const before = previous === undefined ? new Map() : stateData(previous).jobs.chunks;
  const out = new Set<number>();
  for (const [c, chunk] of now) {
    if (before.get(c) !== chunk) out.add(Math.floor(c / CHUNKS_PER_SEGMENT));
  }
  for (const c of before.keys()) {
    if (!now.has(c)) out.add(Math.floor(c / CHUNKS_PER_SEGMENT));
  }
  return [...out].sort((x, y) => x - y);
}

/** The jobs of segment `k` of `state`, in sequence order. */
export function segmentJobs(state: QueueState, k: number): Job[] {
  const chunks = stateData(state).jobs.chunks;
  const out: Job[] = [];
  for (let c = k * CHUNKS_PER_SEGMENT; c < (k + 1) * CHUNKS_PER_SEGMENT; c++) {
    const chunk = chunks.get(c);
    if (chunk === undefined) continue;
    for (const job of chunk.jobs) if (job !== undefined) out.push(job);
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A segment object's bytes: `{format, version: 2, segment, jobs: [stored jobs]}`. */
export function encodeSegment(k: number, jobs: readonly Job[]): Uint8Array {
  return encoder.encode(
    JSON.stringify({ format: SEGMENT_FORMAT, version: 2, segment: k, jobs: jobs.map(storedJob) }),
  );
}

/** The jobs of a segment object, checked; throws an {@linkcode InvalidError} naming `where`. */
export function decodeSegment(bytes: Uint8Array, k: number, where: string): Job[] {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidError(`invalid state: ${where}: not UTF-8 JSON (${String(error)})`);
  }
  if (!isObject(raw) || raw.format !== SEGMENT_FORMAT || raw.version !== 2) {
    throw new InvalidError(`invalid state: ${where}: not an ${SEGMENT_FORMAT} version 2 object`);
  }
  if (raw.segment !== k || !Array.isArray(raw.jobs)) {
    throw new InvalidError(`invalid state: ${where}: bad segment number or jobs`);
  }
  return raw.jobs.map((job, i) => {
    const restored = restoreJob(job, `${where}: jobs[${i}]`);
    const seq = parseJobId(restored.id);
    if (seq === undefined || segmentOf(seq) !== k) {
      throw new InvalidError(`invalid state: ${where}: job ${restored.id} is not in segment ${k}`);
    }
    return restored;
  });
}

/** What a checkpoint holds besides its jobs. */
export interface CheckpointMeta {
  /** Epoch of the last log record included. */
  epoch: number;
  /** The last log sequence number included. */
  commit: number;
  /** Who wrote that record. */
  leader: BrokerIdentity | null;
  /** The next job's sequence number. */
  nextSeq: number;
  /** The counters. */
  totals: QueueTotals;
  /** The state's `extra` values. */
  extra?: Readonly<Record<string, JsonValue>>;
}

/**
 * The state made of a checkpoint's segments (given in segment order, each
 * in sequence order) and its meta. Throws an {@linkcode InvalidError} when
 * ids repeat, are out of order or not below `nextSeq`.
 */
export function stateFromSegments(segments: readonly Job[][], meta: CheckpointMeta): QueueState {
  const entries: { seq: number; job: Job }[] = [];
  let last = -1;
  for (const jobs of segments) {
    for (const job of jobs) {
      const seq = parseJobId(job.id)!;
      if (seq <= last || seq >= meta.nextSeq) {
        throw new InvalidError(`invalid state: checkpoint: job ${job.id} out of order or too new`);
      }
      last = seq;
      entries.push({ seq, job });
    }
  }
  return new StateData({
    epoch: meta.epoch,
    commit: meta.commit,
    leader: meta.leader,
    nextSeq: meta.nextSeq,
    totals: { ...meta.totals },
    extra: meta.extra ?? NO_EXTRA,
    ...indexJobs(entries),
  });
}

/** How many jobs `state` holds in the given segments (O(segments), from chunk counts). */
export function jobsInSegments(state: QueueState, segments: readonly number[]): number {
  const chunks = stateData(state).jobs.chunks;
  let n = 0;
  for (const k of segments) {
    for (let c = k * CHUNKS_PER_SEGMENT; c < (k + 1) * CHUNKS_PER_SEGMENT; c++) {
      n += chunks.get(c)?.count ?? 0;
    }
  }
  return n;
}
