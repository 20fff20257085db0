/**
 * The internal representation of a queue state and the batch-scoped draft
 * that `applyBatch` writes through. Not part of the public API: use the
 * functions of `state.ts` and `apply.ts`.
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
import type { Job } from "../protocol/operations.ts";
import { isFinished } from "./job_codec.ts";
import { JobTable, type JobTableDraft } from "./job_table.ts";
import { KeyIndex, type KeyIndexDraft } from "./key_index.ts";
import {
  type IndexEntry,
  SortedList,
  type SortedListDraft,
  type SortedListView,
} from "./sorted_list.ts";
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
 * Its jobs and counters never change; its derived claim indexes may be
 * swapped for equivalent ones (see {@linkcode StateData.adoptIndexes}).
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
  /** Jobs held. */
  readonly jobs: JobTable;
  /** Idempotency keys. */
  readonly keys: KeyIndex;
  /** Claimable jobs. */
  ready: SortedList;
  /** Claimable jobs per type (no empty lists). */
  readyByType: ReadonlyMap<string, SortedList>;
  /** Delayed jobs not (yet) promoted. */
  delayed: SortedList;
  /** Delayed jobs per type (no empty lists). */
  delayedByType: ReadonlyMap<string, SortedList>;
  /** Active jobs by lease expiry. */
  active: SortedList;
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

  /**
   * Takes over the claim indexes of `other`, a state with the same jobs and
   * counters (a batch that changed nothing stored but promoted due delayed
   * jobs). The meaning of this state does not change; later batches and
   * `nextDueAt` just do not redo the work. The only fields ever
   * replaced after construction.
   */
  adoptIndexes(other: StateData): void {
    this.ready = other.ready;
    this.readyByType = other.readyByType;
    this.delayed = other.delayed;
    this.delayedByType = other.delayedByType;
    this.active = other.active;
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

type ListSlot = SortedList | SortedListDraft;

/**
 * How a batch changed one job: `add` (a job the base state did not hold),
 * `update` (a new record for a job it held), `remove` (dropped).
 */
export type JobChange = "add" | "update" | "remove";

/**
 * A mutable, batch-scoped working copy of a {@linkcode StateData}. Every
 * container is drafted lazily on its first write, so a batch of reads copies
 * nothing; the base state is never changed.
 *
 * `dirty` says whether anything that must be written changed (a job, a
 * counter); index-only moves (promoting due delayed jobs) do not count.
 */
export class StateDraft {
  #base: StateData;
  #touched = false;
  /** Whether a change that must be written happened. */
  dirty = false;
  /** Every job the draft changed since it started, by sequence number (persistence writes these). */
  readonly changes: Map<number, JobChange> = new Map();
  #nextSeq: number;
  #totals: QueueTotals | undefined;
  #jobs: JobTableDraft | undefined;
  #keys: KeyIndexDraft | undefined;
  #ready: SortedListDraft | undefined;
  #readyByType: Map<string, ListSlot> | undefined;
  #delayed: SortedListDraft | undefined;
  #delayedByType: Map<string, ListSlot> | undefined;
  #active: SortedListDraft | undefined;
  #finished: SortedListDraft | undefined;
  #byType: Map<string, number> | undefined;

  /** Starts a draft of `base`. */
  constructor(base: StateData) {
    this.#base = base;
    this.#nextSeq = base.nextSeq;
  }

  /** The state as drafted so far; the draft stays usable (later writes copy again). */
  snapshot(): StateData {
    if (!this.#touched) return this.#base;
    const base = this.#base;
    const next = new StateData({
      epoch: base.epoch,
      commit: base.commit,
      leader: base.leader,
      nextSeq: this.#nextSeq,
      totals: this.#totals ?? base.totals,
      jobs: this.#jobs?.freeze() ?? base.jobs,
      keys: this.#keys?.freeze() ?? base.keys,
      ready: this.#ready?.freeze() ?? base.ready,
      readyByType: freezeLists(this.#readyByType) ?? base.readyByType,
      delayed: this.#delayed?.freeze() ?? base.delayed,
      delayedByType: freezeLists(this.#delayedByType) ?? base.delayedByType,
      active: this.#active?.freeze() ?? base.active,
      finished: this.#finished?.freeze() ?? base.finished,
      byType: this.#byType ?? base.byType,
    });
    this.#base = next;
    this.#touched = false;
    this.#totals = undefined;
    this.#jobs = undefined;
    this.#keys = undefined;
    this.#ready = undefined;
    this.#readyByType = undefined;
    this.#delayed = undefined;
    this.#delayedByType = undefined;
    this.#active = undefined;
    this.#finished = undefined;
    this.#byType = undefined;
    return next;
  }

  // -- reads ---------------------------------------------------------------

  /** The job with sequence number `seq`, if held. */
  job(seq: number): Job | undefined {
    return (this.#jobs ?? this.#base.jobs).get(seq);
  }

  /** The sequence number of the job holding idempotency key `key`, if any. */
  keyOwner(key: string): number | undefined {
    return (this.#keys ?? this.#base.keys).get(key);
  }

  /** The claimable jobs, all types. */
  ready(): SortedListView {
    return this.#ready ?? this.#base.ready;
  }

  /** The claimable jobs of one type. */
  readyOfType(type: string): SortedListView | undefined {
    return (this.#readyByType ?? this.#base.readyByType).get(type);
  }

  /** The delayed jobs not yet promoted, all types. */
  delayed(): SortedListView {
    return this.#delayed ?? this.#base.delayed;
  }

  /** The active jobs by lease expiry. */
  active(): SortedListView {
    return this.#active ?? this.#base.active;
  }

  // -- writes --------------------------------------------------------------

  /** Takes the next sequence number. */
  nextSeq(): number {
    this.#touch(true);
    return this.#nextSeq++;
  }

  /** Adds `n` (default 1) to a total. */
  count(total: keyof QueueTotals, n = 1): void {
    this.#touch(true);
    this.#totals ??= { ...this.#base.totals };
    this.#totals[total] += n;
  }

  /** Sets the counters and the next sequence number as a log record says (replay). */
  setMeta(meta: { nextSeq?: number; totals?: Readonly<QueueTotals> }): void {
    this.#touch(true);
    if (meta.nextSeq !== undefined) this.#nextSeq = meta.nextSeq;
    if (meta.totals !== undefined) this.#totals = { ...meta.totals };
  }

  /** Stores a new job and indexes it by its state. */
  add(seq: number, job: Job): void {
    this.#touch(true);
    this.changes.set(seq, this.changes.get(seq) === "remove" ? "update" : "add");
    this.#jobsDraft().set(seq, job);
    if (job.idempotencyKey !== undefined) this.#keysDraft().set(job.idempotencyKey, seq);
    this.#place(seq, job);
  }

  /** Replaces job `seq` (now `previous`) with `next`, moving it between indexes as needed. */
  update(seq: number, previous: Job, next: Job): void {
    this.#touch(true);
    if (this.changes.get(seq) !== "add") this.changes.set(seq, "update");
    this.#unplace(seq, previous);
    this.#jobsDraft().set(seq, next);
    this.#place(seq, next);
  }

  /** Drops job `seq` (now `job`) and its idempotency key. */
  remove(seq: number, job: Job): void {
    this.#touch(true);
    if (this.changes.get(seq) === "add") this.changes.delete(seq);
    else this.changes.set(seq, "remove");
    this.#unplace(seq, job);
    this.#jobsDraft().delete(seq);
    if (job.idempotencyKey !== undefined) this.#keysDraft().delete(job.idempotencyKey, seq);
  }

  /**
   * Moves every delayed job due at `now` into the ready index (the records
   * keep saying `delayed`; this changes no stored data, so it is not dirty).
   */
  promoteDue(now: number): void {
    for (let entry = this.delayed().first(); entry !== undefined && entry.a <= now;) {
      const job = this.job(entry.seq);
      this.#touch(false);
      this.#list("delayed").remove(entry);
      if (job !== undefined) {
        this.#typeList("delayed", job.type).remove(entry);
        const ready = readyEntry(job, entry.seq);
        this.#list("ready").insert(ready);
        this.#typeList("ready", job.type).insert(ready);
      }
      entry = this.delayed().first();
    }
  }

  /** Moves a promoted delayed job that is not due after all (the clock went back) back to the delayed index. */
  demote(seq: number, job: Job): void {
    this.#touch(false);
    const ready = readyEntry(job, seq);
    this.#list("ready").remove(ready);
    this.#typeList("ready", job.type).remove(ready);
    const delayed = delayedEntry(job, seq);
    this.#list("delayed").insert(delayed);
    this.#typeList("delayed", job.type).insert(delayed);
  }

  /**
   * Drops an index entry that does not match its job's record: from the
   * global list of `kind` and from the per-type ready lists of `types` (the
   * one it was found in and the job's own). A safety net: it cannot happen
   * unless there is a bug, but a stale entry must never make a claim or an
   * expiry loop, and removing it from the list it came from guarantees progress.
   */
  dropStale(
    kind: "ready" | "active",
    entry: IndexEntry,
    types: readonly (string | undefined)[] = [],
  ): void {
    this.#touch(false);
    this.#list(kind).remove(entry);
    if (kind !== "ready") return;
    for (const type of types) if (type !== undefined) this.#typeList("ready", type).remove(entry);
  }

  #place(seq: number, job: Job): void {
    switch (job.state) {
      case "ready":
        this.#indexBoth("ready", job.type, readyEntry(job, seq));
        break;
      case "delayed":
        this.#indexBoth("delayed", job.type, delayedEntry(job, seq));
        break;
      case "active":
        this.#list("active").insert(activeEntry(job, seq));
        break;
      default:
        this.#list("finished").insert(finishedEntry(job, seq));
        return;
    }
    this.#countType(job.type, 1);
  }

  #unplace(seq: number, job: Job): void {
    switch (job.state) {
      case "ready":
        this.#unindexBoth("ready", job.type, readyEntry(job, seq));
        break;
      case "delayed":
        // Not yet promoted, or promoted into the ready index by a claim.
        if (!this.#unindexBoth("delayed", job.type, delayedEntry(job, seq))) {
          this.#unindexBoth("ready", job.type, readyEntry(job, seq));
        }
        break;
      case "active":
        this.#list("active").remove(activeEntry(job, seq));
        break;
      default:
        this.#list("finished").remove(finishedEntry(job, seq));
        return;
    }
    this.#countType(job.type, -1);
  }

  #indexBoth(kind: "ready" | "delayed", type: string, entry: IndexEntry): void {
    this.#list(kind).insert(entry);
    this.#typeList(kind, type).insert(entry);
  }

  #unindexBoth(kind: "ready" | "delayed", type: string, entry: IndexEntry): boolean {
    if (!this.#list(kind).remove(entry)) return false;
    this.#typeList(kind, type).remove(entry);
    return true;
  }

  #countType(type: string, delta: number): void {
    this.#byType ??= new Map(this.#base.byType);
    const n = (this.#byType.get(type) ?? 0) + delta;
    if (n > 0) this.#byType.set(type, n);
    else this.#byType.delete(type);
  }

  #touch(dirty: boolean): void {
    this.#touched = true;
    if (dirty) this.dirty = true;
  }

  #jobsDraft(): JobTableDraft {
    return this.#jobs ??= this.#base.jobs.draft();
  }

  #keysDraft(): KeyIndexDraft {
    return this.#keys ??= this.#base.keys.draft();
  }

  #list(kind: "ready" | "delayed" | "active" | "finished"): SortedListDraft {
    switch (kind) {
      case "ready":
        return this.#ready ??= this.#base.ready.draft();
      case "delayed":
        return this.#delayed ??= this.#base.delayed.draft();
      case "active":
        return this.#active ??= this.#base.active.draft();
      case "finished":
        return this.#finished ??= this.#base.finished.draft();
    }
  }

  #typeList(kind: "ready" | "delayed", type: string): SortedListDraft {
    const map = kind === "ready"
      ? this.#readyByType ??= new Map(this.#base.readyByType)
      : this.#delayedByType ??= new Map(this.#base.delayedByType);
    const slot = map.get(type);
    if (slot !== undefined && !(slot instanceof SortedList)) return slot;
    const draft = (slot ?? SortedList.EMPTY).draft();
    map.set(type, draft);
    return draft;
  }
}

function freezeLists(
  map: Map<string, ListSlot> | undefined,
): ReadonlyMap<string, SortedList> | undefined {
  if (map === undefined) return undefined;
  const out = new Map<string, SortedList>();
  for (const [type, slot] of map) {
    const list = slot instanceof SortedList ? slot : slot.freeze();
    if (list.size > 0) out.set(type, list);
  }
  return out;
}
