/**
 * The batch-scoped working copy of a queue state that `applyBatch` writes
 * through. Not part of the public API.
 *
 * @module
 */
import type { Job, JsonValue, QueueTotals } from "../protocol/operations.ts";
import type { JobTableDraft } from "./job_table.ts";
import type { KeyIndexDraft } from "./key_index.ts";
import {
  type IndexEntry,
  SortedList,
  type SortedListDraft,
  type SortedListView,
} from "./sorted_list.ts";
import { activeEntry, delayedEntry, finishedEntry, readyEntry, StateData } from "./state_data.ts";

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
  #extra: Record<string, JsonValue> | undefined;
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
      extra: this.#extra ?? base.extra,
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
    this.#extra = undefined;
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

  /** Sets the counters, the next sequence number and `extra` as a log record says (replay). */
  setMeta(
    meta: {
      nextSeq?: number;
      totals?: Readonly<QueueTotals>;
      extra?: Readonly<Record<string, JsonValue>>;
    },
  ): void {
    this.#touch(true);
    if (meta.nextSeq !== undefined) this.#nextSeq = meta.nextSeq;
    if (meta.totals !== undefined) this.#totals = { ...meta.totals };
    if (meta.extra !== undefined) this.#extra = { ...meta.extra };
  }

  /** A named value of the state's `extra` (features' settings and counters). */
  extra(key: string): JsonValue | undefined {
    return (this.#extra ?? this.#base.extra)[key];
  }

  /** Sets (or, with `undefined`, removes) a named value of `extra`; it is persisted with the batch. */
  setExtra(key: string, value: JsonValue | undefined): void {
    this.#touch(true);
    this.#extra ??= { ...this.#base.extra };
    if (value === undefined) delete this.#extra[key];
    else this.#extra[key] = value;
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
