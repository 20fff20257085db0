/**
 * The queue's state: every job still held, the idempotency keys, the
 * counters, and who wrote it. Pure and immutable — no I/O, no clock, no
 * randomness; time comes in as arguments. {@linkcode applyBatch} in
 * `apply.ts` derives new states; this module creates, encodes, decodes and
 * queries them.
 *
 * The stored form is one JSON object:
 * `{format: "osqueue-state", version: 1, epoch, commit, leader, nextSeq, totals, jobs: [...]}`
 * with the jobs in id order (see `job_codec.ts` for a job's stored form).
 * Indexes are not stored; {@linkcode decodeState} rebuilds them.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Job, JobState, JsonValue, QueueStats, QueueTotals } from "../protocol/operations.ts";
import { parseJobId } from "./job_id.ts";
import { isCount, isObject, restoreJob } from "./job_codec.ts";
import { KeyIndex } from "./key_index.ts";
import { SortedList, type SortedListView } from "./sorted_list.ts";
import { indexJobs, NO_EXTRA, StateData, stateData, zeroTotals } from "./state_data.ts";
import { JobTable } from "./job_table.ts";

/** A broker as recorded in the state: its id and, if it serves clients, its URL. */
export interface BrokerIdentity {
  /** The broker's unique id. */
  id: string;
  /** The URL clients use to reach it. */
  url?: string;
}

/**
 * An immutable snapshot of the queue. Only these fields are public; the jobs
 * and indexes inside are reached through the functions of this module and
 * `apply.ts`. Every `QueueState` comes from {@linkcode createState},
 * {@linkcode decodeState}, {@linkcode withCommit} or `applyBatch`.
 */
export interface QueueState {
  /** Leader epoch; bumped by a takeover. */
  readonly epoch: number;
  /** Commit counter; +1 per successful write. */
  readonly commit: number;
  /** The broker that wrote the last commit, if any. */
  readonly leader: BrokerIdentity | null;
  /** The sequence number the next pushed job gets (ids are this number in base 36). */
  readonly nextSeq: number;
  /** Counters since the queue was created. */
  readonly totals: Readonly<QueueTotals>;
  /** Small named JSON values beside the jobs (features' settings and counters). */
  readonly extra: Readonly<Record<string, JsonValue>>;
}

/** The `format` field of an encoded state. */
export const STATE_FORMAT = "osqueue-state";
/** The `version` field of the states this module writes (and the only one it reads). */
export const STATE_VERSION = 1;

const EMPTY = new StateData({
  epoch: 0,
  commit: 0,
  leader: null,
  nextSeq: 1,
  totals: zeroTotals(),
  extra: NO_EXTRA,
  jobs: JobTable.EMPTY,
  keys: KeyIndex.EMPTY,
  ready: SortedList.EMPTY,
  readyByType: new Map(),
  delayed: SortedList.EMPTY,
  delayedByType: new Map(),
  active: SortedList.EMPTY,
  finished: SortedList.EMPTY,
  byType: new Map(),
});

/** An empty queue: epoch 0, commit 0, no leader, no jobs. */
export function createState(): QueueState {
  return EMPTY;
}

/**
 * `state` after one more successful write by `meta.leader` in `meta.epoch`:
 * commit + 1 (or `meta.commit`, the log sequence number of that write). A leader that steps down gracefully writes `leader: null`, so
 * the next broker takes over without waiting.
 */
export function withCommit(
  state: QueueState,
  meta: { leader: BrokerIdentity | null; epoch: number; commit?: number },
): QueueState {
  const data = stateData(state);
  const leader: BrokerIdentity | null = meta.leader === null
    ? null
    : meta.leader.url === undefined
    ? { id: meta.leader.id }
    : { id: meta.leader.id, url: meta.leader.url };
  return data.with({ commit: meta.commit ?? data.commit + 1, leader, epoch: meta.epoch });
}

/** Number of jobs held (unfinished plus finished ones awaiting archive). */
export function jobCount(state: QueueState): number {
  return stateData(state).jobs.size;
}

/**
 * The earliest moment at which something changes by time alone: a delayed
 * job's `runAt` or an active lease's `expiresAt`; `undefined` when nothing is
 * waiting on the clock.
 *
 * Pass `now` (recommended) to get only delayed jobs that become due after
 * `now`: due ones are claimable already, so waking for them is pointless.
 * Without `now`, a delayed job that is already due may still be reported
 * (until a claim has seen it), so the result can lie in the past. Lease
 * expiries are returned even when already past: they stay until an `expire`
 * operation handles them.
 */
export function nextDueAt(state: QueueState, now?: number): number | undefined {
  const data = stateData(state);
  const delayed = now === undefined ? data.delayed.first() : data.delayed.firstAbove(now);
  const lease = data.active.first();
  if (delayed === undefined) return lease?.a;
  if (lease === undefined) return delayed.a;
  return Math.min(delayed.a, lease.a);
}

/**
 * Whether a claim for `types` (all types when absent or empty) would get a
 * job at `now`: a ready job, or a delayed one due by `now`.
 */
export function hasReady(state: QueueState, now: number, types?: readonly string[]): boolean {
  const data = stateData(state);
  if (types === undefined || types.length === 0) {
    return data.ready.size > 0 || isDue(data.delayed, now);
  }
  for (const type of types) {
    const ready = data.readyByType.get(type);
    if (ready !== undefined && ready.size > 0) return true;
    const delayed = data.delayedByType.get(type);
    if (delayed !== undefined && isDue(delayed, now)) return true;
  }
  return false;
}

function isDue(list: SortedListView, now: number): boolean {
  const first = list.first();
  return first !== undefined && first.a <= now;
}

/**
 * The finished jobs (completed, dead, cancelled) to archive now, oldest
 * finished first: the oldest `maxJobs` of them once there are at least
 * `maxJobs`, or once the oldest finished more than `maxAgeMs` before `now`;
 * otherwise none. Archive them, then apply an `archived` operation with their ids.
 */
export function selectArchive(
  state: QueueState,
  options: { now: number; maxJobs: number; maxAgeMs: number },
): Job[] {
  const data = stateData(state);
  const oldest = data.finished.first();
  if (oldest === undefined) return [];
  const maxJobs = Math.max(1, Math.floor(options.maxJobs));
  if (data.finished.size < maxJobs && oldest.a > options.now - options.maxAgeMs) return [];
  const out: Job[] = [];
  for (const entry of data.finished.take(maxJobs)) {
    const job = data.jobs.get(entry.seq);
    if (job !== undefined) out.push({ ...job });
  }
  return out;
}

/** The state a job presents to readers at `now`: a delayed job that is due reads as `ready`. */
export function effectiveState(job: Pick<Job, "state" | "runAt">, now: number): JobState {
  return job.state === "delayed" && job.runAt <= now ? "ready" : job.state;
}

/** The queue's counters at `now` (as the `stats` operation replies). */
export function queueStats(state: QueueState, now: number): QueueStats {
  const data = stateData(state);
  const due = data.delayed.countAtMost(now);
  const byType: Record<string, number> = {};
  for (const [type, n] of data.byType) byType[type] = n;
  return {
    ready: data.ready.size + due,
    delayed: data.delayed.size - due,
    active: data.active.size,
    finishedPending: data.finished.size,
    totals: { ...data.totals },
    byType,
    epoch: data.epoch,
    commit: data.commit,
  };
}

/** Every job the state holds (unfinished, and finished ones awaiting archive), by id order. */
export function listJobs(state: QueueState): Job[] {
  return [...stateData(state).jobs].map((job) => ({ ...job }));
}

/** The record of the job with this id, if the state holds it (as stored; callers must not mutate it). */
export function findJob(state: QueueState, id: string): Job | undefined {
  const seq = parseJobId(id);
  return seq === undefined ? undefined : stateData(state).jobs.get(seq);
}

// ---------------------------------------------------------------------------
// Encoding.

const encoder = new TextEncoder();
const COMMA = encoder.encode(",");
const TAIL = encoder.encode("]}");

/**
 * The state as UTF-8 JSON (see the module doc for the layout). Chunks of
 * jobs that did not change since the last encode reuse their cached bytes.
 */
export function encodeState(state: QueueState): Uint8Array {
  const data = stateData(state);
  const header = JSON.stringify({
    format: STATE_FORMAT,
    version: STATE_VERSION,
    epoch: data.epoch,
    commit: data.commit,
    leader: data.leader,
    nextSeq: data.nextSeq,
    totals: data.totals,
  });
  const head = encoder.encode(`${header.slice(0, -1)},"jobs":[`);
  const chunks = data.jobs.encodedChunks();
  let length = head.length + TAIL.length + Math.max(0, chunks.length - 1) * COMMA.length;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  out.set(head, 0);
  let offset = head.length;
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0) {
      out.set(COMMA, offset);
      offset += COMMA.length;
    }
    out.set(chunks[i], offset);
    offset += chunks[i].length;
  }
  out.set(TAIL, offset);
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a state written by {@linkcode encodeState}, checking it field by
 * field and rebuilding the indexes. Throws an {@linkcode InvalidError} that
 * says what is wrong for bytes that are not UTF-8 JSON, another format, an
 * unknown version or a malformed field.
 */
export function decodeState(bytes: Uint8Array): QueueState {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidError(
      `invalid state: not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  if (!isObject(raw)) throw new InvalidError("invalid state: not a JSON object");
  if (raw.format !== STATE_FORMAT) {
    throw new InvalidError(
      `invalid state: format ${JSON.stringify(raw.format)} is not ${JSON.stringify(STATE_FORMAT)}`,
    );
  }
  if (raw.version !== STATE_VERSION) {
    throw new InvalidError(
      `unsupported state version ${
        JSON.stringify(raw.version)
      }: this osqueue reads version ${STATE_VERSION}`,
    );
  }
  const bad = (field: string): never => {
    throw new InvalidError(`invalid state: bad ${field}`);
  };
  const { epoch, commit, nextSeq } = raw;
  if (!isCount(epoch)) bad("epoch");
  if (!isCount(commit)) bad("commit");
  if (!isCount(nextSeq) || nextSeq < 1) bad("nextSeq");
  const leader = restoreLeader(raw.leader);
  if (leader === undefined) bad("leader");
  const totals = zeroTotals();
  if (!isObject(raw.totals)) bad("totals");
  const rawTotals = raw.totals as Record<string, unknown>;
  for (const key of Object.keys(totals) as (keyof QueueTotals)[]) {
    const value = rawTotals[key] ?? 0;
    if (!isCount(value)) bad(`totals.${key}`);
    totals[key] = value as number;
  }
  if (!Array.isArray(raw.jobs)) bad("jobs (not an array)");
  const rawJobs = raw.jobs as unknown[];
  const entries: { seq: number; job: Job }[] = new Array(rawJobs.length);
  let sorted = true;
  for (let i = 0; i < rawJobs.length; i++) {
    const job = restoreJob(rawJobs[i], `jobs[${i}]`);
    const seq = parseJobId(job.id);
    if (seq === undefined || seq >= (nextSeq as number)) {
      throw new InvalidError(
        `invalid state: jobs[${i}]: id ${JSON.stringify(job.id)} is not an id below nextSeq`,
      );
    }
    if (i > 0 && seq <= entries[i - 1].seq) sorted = false;
    entries[i] = { seq, job };
  }
  if (!sorted) {
    entries.sort((x, y) => x.seq - y.seq);
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].seq === entries[i - 1].seq) {
        throw new InvalidError(`invalid state: job id ${entries[i].job.id} appears twice`);
      }
    }
  }
  return new StateData({
    epoch: epoch as number,
    commit: commit as number,
    leader: leader as BrokerIdentity | null,
    nextSeq: nextSeq as number,
    totals,
    extra: NO_EXTRA,
    ...indexJobs(entries),
  });
}

function restoreLeader(raw: unknown): BrokerIdentity | null | undefined {
  if (raw === null) return null;
  if (!isObject(raw) || typeof raw.id !== "string") return undefined;
  if (raw.url === undefined) return { id: raw.id };
  return typeof raw.url === "string" ? { id: raw.id, url: raw.url } : undefined;
}
