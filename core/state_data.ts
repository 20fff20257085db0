/**
 * The internal representation of a queue state (the batch-scoped draft that
 * `applyBatch` writes through is in `state_draft.ts`). Not part of the
 * public API: use the functions of `state.ts` and `apply.ts`.
 *
 * Layout (all persistent, shared between versions, copied on write per batch):
 * - `jobs`: every job still held, by sequence number ({@linkcode JobTable});
 * - `keys`: idempotency key → sequence number ({@linkcode KeyIndex});
 * - `ready` (+ `readyByType`): claimable jobs, ordered by priority (highest
 *   first), then `runAt`, then sequence number. It holds every `ready` job and
 *   the `delayed` jobs a claim has found due ("promoted"; their record still
 *   says `delayed`);
 * - `delayed` (+ `delayedByType`): the other `delayed` jobs, by `runAt`, then sequence;
 * - `active`: leased jobs by lease expiry, then sequence;
 * - `finished`: completed, dead and cancelled jobs by `finishedAt`, then sequence;
 * - `byType`: unfinished jobs per type.
 *
 * Only `jobs`, the counters and the leader fields are stored; the rest is
 * rebuilt from the jobs on decode.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Job, JsonValue } from "../protocol/operations.ts";
import { isFinished } from "./job_codec.ts";
import { JobTable } from "./job_table.ts";
import { KeyIndex } from "./key_index.ts";
import { type IndexEntry, SortedList } from "./sorted_list.ts";
import type { QueueTotals } from "../protocol/operations.ts";
import type { BrokerIdentity, QueueState } from "./state.ts";

/** The fields a {@linkcode StateData} is built from. */
export interface StateFields {
  /** Leader epoch. */
  epoch: number;
  /** Commit counter. */
  commit: number;
  /** The broker that wrote the last commit. */
  leader: BrokerIdentity | null;
  /** The next job's sequence number. */
  nextSeq: number;
  /** Counters since the queue was created. */
  totals: Readonly<QueueTotals>;
  /** Small named JSON values beside the jobs (features' settings and counters), persisted whole when changed. */
  extra: Readonly<Record<string, JsonValue>>;
  /** Jobs held. */
  jobs: JobTable;
  /** Idempotency keys. */
  keys: KeyIndex;
  /** Claimable jobs. */
  ready: SortedList;
  /** Claimable jobs per type. */
  readyByType: ReadonlyMap<string, SortedList>;
  /** Delayed jobs not (yet) promoted. */
  delayed: SortedList;
  /** Delayed jobs per type. */
  delayedByType: ReadonlyMap<string, SortedList>;
  /** Active jobs by lease expiry. */
  active: SortedList;
  /** Finished jobs by finish time. */
  finished: SortedList;
  /** Unfinished jobs per type. */
  byType: ReadonlyMap<string, number>;
}

/**
 * An immutable queue state: the one implementation of {@linkcode QueueState}.
 * Nothing in it ever changes.
 */
export class StateData implements QueueState {
  /** Leader epoch. */
  readonly epoch: number;
  /** Commit counter. */
  readonly commit: number;
  /** The broker that wrote the last commit. */
  readonly leader: BrokerIdentity | null;
  /** The next job's sequence number. */
  readonly nextSeq: number;
  /** Counters since the queue was created. */
  readonly totals: Readonly<QueueTotals>;
  /** Small named JSON values beside the jobs (see {@linkcode StateFields.extra}). */
  readonly extra: Readonly<Record<string, JsonValue>>;
  /** Jobs held. */
  readonly jobs: JobTable;
  /** Idempotency keys. */
  readonly keys: KeyIndex;
  /** Claimable jobs. */
  readonly ready: SortedList;
  /** Claimable jobs per type (no empty lists). */
  readonly readyByType: ReadonlyMap<string, SortedList>;
  /** Delayed jobs not (yet) promoted. */
  readonly delayed: SortedList;
  /** Delayed jobs per type (no empty lists). */
  readonly delayedByType: ReadonlyMap<string, SortedList>;
  /** Active jobs by lease expiry. */
  readonly active: SortedList;
  /** Finished jobs by finish time. */
  readonly finished: SortedList;
  /** Unfinished jobs per type (no zero counts). */
  readonly byType: ReadonlyMap<string, number>;

  /** Builds a state from its fields. */
  constructor(fields: StateFields) {
    this.epoch = fields.epoch;
    this.commit = fields.commit;
    this.leader = fields.leader;
    this.nextSeq = fields.nextSeq;
    this.totals = fields.totals;
    this.extra = fields.extra;
    this.jobs = fields.jobs;
    this.keys = fields.keys;
    this.ready = fields.ready;
    this.readyByType = fields.readyByType;
    this.delayed = fields.delayed;
    this.delayedByType = fields.delayedByType;
    this.active = fields.active;
    this.finished = fields.finished;
    this.byType = fields.byType;
  }

  /** A copy with some fields replaced. */
  with(fields: Partial<StateFields>): StateData {
    return new StateData({ ...this.fields(), ...fields });
  }

  /** The fields of this state. */
  fields(): StateFields {
    return {
      epoch: this.epoch,
      commit: this.commit,
      leader: this.leader,
      nextSeq: this.nextSeq,
      totals: this.totals,
      extra: this.extra,
      jobs: this.jobs,
      keys: this.keys,
      ready: this.ready,
      readyByType: this.readyByType,
      delayed: this.delayed,
      delayedByType: this.delayedByType,
      active: this.active,
      finished: this.finished,
      byType: this.byType,
    };
  }
}

/** The internal form of `state`; throws an {@linkcode InvalidError} for a foreign object. */
export function stateData(state: QueueState): StateData {
  if (state instanceof StateData) return state;
  throw new InvalidError(
    "not a queue state: use createState, decodeState, withCommit or applyBatch to make one",
  );
}

/** The empty `extra` of a new queue. */
export const NO_EXTRA: Readonly<Record<string, JsonValue>> = Object.freeze({});

/** Zeroed totals. */
export function zeroTotals(): QueueTotals {
  return { pushed: 0, completed: 0, failed: 0, retried: 0, dead: 0, expired: 0, cancelled: 0 };
}

/** The ready-index entry of a job: priority descending, then `runAt`, then sequence. */
export function readyEntry(job: Job, seq: number): IndexEntry {
  return { a: -job.priority, b: job.runAt, seq };
}

/** The delayed-index entry of a job: `runAt`, then sequence. */
export function delayedEntry(job: Job, seq: number): IndexEntry {
  return { a: job.runAt, b: 0, seq };
}

/** The active-index entry of a job: lease expiry, then sequence. */
export function activeEntry(job: Job, seq: number): IndexEntry {
  return { a: job.lease?.expiresAt ?? job.updatedAt, b: 0, seq };
}

/** The finished-index entry of a job: finish time, then sequence. */
export function finishedEntry(job: Job, seq: number): IndexEntry {
  return { a: job.finishedAt ?? job.updatedAt, b: 0, seq };
}

/**
 * Builds the indexes of a state from its jobs, given in ascending sequence
 * order with their sequence numbers (used by decode). Throws an
 * {@linkcode InvalidError} when two jobs hold the same idempotency key.
 */
export function indexJobs(
  entries: readonly { seq: number; job: Job }[],
): Pick<
  StateFields,
  | "jobs"
  | "keys"
  | "ready"
  | "readyByType"
  | "delayed"
  | "delayedByType"
  | "active"
  | "finished"
  | "byType"
> {
  const ready: IndexEntry[] = [];
  const delayed: IndexEntry[] = [];
  const active: IndexEntry[] = [];
  const finished: IndexEntry[] = [];
  const readyByType = new Map<string, IndexEntry[]>();
  const delayedByType = new Map<string, IndexEntry[]>();
  const byType = new Map<string, number>();
  const keys: [string, number][] = [];
  const push = (map: Map<string, IndexEntry[]>, type: string, entry: IndexEntry) => {
    const list = map.get(type);
    if (list === undefined) map.set(type, [entry]);
    else list.push(entry);
  };
  for (const { seq, job } of entries) {
    if (job.idempotencyKey !== undefined) keys.push([job.idempotencyKey, seq]);
    if (!isFinished(job.state)) byType.set(job.type, (byType.get(job.type) ?? 0) + 1);
    switch (job.state) {
      case "ready": {
        const entry = readyEntry(job, seq);
        ready.push(entry);
        push(readyByType, job.type, entry);
        break;
      }
      case "delayed": {
        const entry = delayedEntry(job, seq);
        delayed.push(entry);
        push(delayedByType, job.type, entry);
        break;
      }
      case "active":
        active.push(activeEntry(job, seq));
        break;
      default:
        finished.push(finishedEntry(job, seq));
    }
  }
  const lists = (map: Map<string, IndexEntry[]>) =>
    new Map([...map].map(([type, list]) => [type, SortedList.from(list)]));
  return {
    jobs: JobTable.fromSorted(entries),
    keys: KeyIndex.fromEntries(keys, (key) => {
      throw new InvalidError(
        `invalid state: idempotency key ${JSON.stringify(key)} held by two jobs`,
      );
    }),
    ready: SortedList.from(ready),
    readyByType: lists(readyByType),
    delayed: SortedList.from(delayed),
    delayedByType: lists(delayedByType),
    active: SortedList.from(active),
    finished: SortedList.from(finished),
    byType,
  };
}
