/**
 * Archiving finished jobs, fenced by the log.
 *
 * Finished jobs (completed, dead, cancelled) leave the state in a batch whose
 * log record names an archive object (`archive/YYYY/MM/DD/HH/<epoch>-<seq>.jsonl`).
 * Only after that record has landed — so only a broker that was leader at
 * that sequence number — is the object written, with `If-None-Match`, from the
 * jobs as they were before the record. A crash in between loses nothing: the
 * record is still in the log tail, and the next leader writes the object
 * from it (the same key and the same bytes). A checkpoint is installed only
 * once every archive object its records asked for exists, so the log records
 * are never collected before their archive objects are written. A deposed
 * leader's record never lands, so it never writes an archive object.
 *
 * The archiver also keeps a bounded index of recent archive objects (key and
 * job sequence range) so that `get` finds a finished job after it left the state.
 *
 * @module
 */
import { ConflictError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import { decodeArchive, encodeArchive } from "../core/archive.ts";
import { jobsById } from "../core/effects.ts";
import { parseJobId } from "../core/job_id.ts";
import { type QueueState, selectArchive } from "../core/state.ts";
import type { Job } from "../protocol/operations.ts";
import type { ArchiveRef } from "./head.ts";
import type { LogRecord } from "./log_record.ts";
import type { ArchiveWrite } from "./state_store.ts";

/** Options of {@linkcode Archiver}. */
export interface ArchiverOptions {
  /** Where archive objects go. */
  store: ObjectStore;
  /** Finished jobs are archived once this many are pending (default 1000). */
  maxJobs?: number;
  /** …or once the oldest finished job is this old (default 5 s). */
  maxAgeMs?: number;
  /** How many recent archive objects the index remembers (default 1024). */
  indexSize?: number;
  /** Receives structured events. */
  log?: (event: { event: string; [field: string]: unknown }) => void;
}

/** Counters of archive work. */
export interface ArchiverMetrics {
  /** Archive objects written (or found already written). */
  writes: number;
  /** Failed archive writes (retried). */
  failures: number;
  /** Bytes written. */
  bytes: number;
}

/** Selects, writes and finds archived jobs for the leader. */
export class Archiver {
  readonly #store: ObjectStore;
  readonly #maxJobs: number;
  readonly #maxAgeMs: number;
  readonly #indexSize: number;
  readonly #log: (event: { event: string; [field: string]: unknown }) => void;
  #index: ArchiveRef[] = [];
  #pending = new Map<string, { jobs: Job[]; writing?: Promise<boolean> }>();
  #cache = new Map<string, Map<string, Job>>();
  #metrics: ArchiverMetrics = { writes: 0, failures: 0, bytes: 0 };

  /** Builds an archiver. */
  constructor(options: ArchiverOptions) {
    this.#store = options.store;
    this.#maxJobs = options.maxJobs ?? 1000;
    this.#maxAgeMs = options.maxAgeMs ?? 5000;
    this.#indexSize = options.indexSize ?? 1024;
    this.#log = options.log ?? (() => {});
  }

  /** A snapshot of the counters. */
  get metrics(): ArchiverMetrics {
    return { ...this.#metrics };
  }

  /** Archive objects not yet known to be written. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Starts a leadership: the index from the checkpoint, and the archive objects the log tail asks for. */
  reset(index: readonly ArchiveRef[], writes: readonly ArchiveWrite[]): void {
    this.#index = [...index];
    this.#pending.clear();
    this.#cache.clear();
    this.add(writes);
  }

  /** The ids of the finished jobs to archive now (oldest finished first), if it is time. */
  select(state: QueueState, now: number): string[] {
    return selectArchive(state, { now, maxJobs: this.#maxJobs, maxAgeMs: this.#maxAgeMs }).map((
      job,
    ) => job.id);
  }

  /** Whether the state holds finished jobs (so the broker should wake to archive them). */
  hasFinished(state: QueueState): boolean {
    return selectArchive(state, { now: Infinity, maxJobs: 1, maxAgeMs: 0 }).length > 0;
  }

  /** How long finished jobs may wait before they are archived, ms. */
  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  /** A record landed on `before`: write the archive object it asks for, if any. */
  landed(record: LogRecord, before: QueueState): void {
    if (record.archive === undefined) return;
    this.add([{ key: record.archive.key, jobs: jobsById(before, record.archive.ids) }]);
  }

  /** Queues archive objects for writing and remembers them in the index. */
  add(writes: readonly ArchiveWrite[]): void {
    for (const write of writes) {
      if (write.jobs.length === 0) continue;
      if (!this.#pending.has(write.key)) this.#pending.set(write.key, { jobs: write.jobs });
      this.#remember(write.key, write.jobs);
      void this.#write(write.key);
    }
  }

  /** Resolves once every queued archive object is written; throws if one cannot be. */
  async flush(): Promise<void> {
    for (const key of [...this.#pending.keys()]) {
      if (!await this.#write(key)) throw new Error(`archive object ${key} could not be written`);
    }
  }

  /** The index of recent archive objects, oldest first. */
  index(): ArchiveRef[] {
    return [...this.#index];
  }

  /** The archived record of job `id`, if a recent archive object holds it. */
  async find(id: string): Promise<Job | undefined> {
    const seq = parseJobId(id);
    if (seq === undefined) return undefined;
    for (let i = this.#index.length - 1; i >= 0; i--) {
      const ref = this.#index[i];
      if (seq < ref.min || seq > ref.max) continue;
      let jobs = this.#cache.get(ref.key);
      if (jobs === undefined) {
        const pending = this.#pending.get(ref.key);
        const list = pending?.jobs ?? await this.#read(ref.key);
        if (list === undefined) continue;
        jobs = new Map(list.map((job) => [job.id, job]));
        this.#cache.set(ref.key, jobs);
        if (this.#cache.size > 8) this.#cache.delete(this.#cache.keys().next().value!);
      }
      const job = jobs.get(id);
      if (job !== undefined) return { ...job };
    }
    return undefined;
  }

  async #read(key: string): Promise<Job[] | undefined> {
    try {
      const found = await this.#store.get(key);
      return found === null ? undefined : decodeArchive(found.body);
    } catch (error) {
      this.#log({ event: "archive-read-error", key, error: String(error) });
      return undefined;
    }
  }

  #remember(key: string, jobs: readonly Job[]): void {
    if (this.#index.some((ref) => ref.key === key)) return;
    let min = Infinity;
    let max = -Infinity;
    for (const job of jobs) {
      const seq = parseJobId(job.id);
      if (seq === undefined) continue;
      min = Math.min(min, seq);
      max = Math.max(max, seq);
    }
    if (min > max) return;
    this.#index.push({ key, min, max });
    if (this.#index.length > this.#indexSize) {
      this.#index.splice(0, this.#index.length - this.#indexSize);
    }
  }

  /** Writes one queued archive object (If-None-Match; already there counts as written). */
  #write(key: string): Promise<boolean> {
    const entry = this.#pending.get(key);
    if (entry === undefined) return Promise.resolve(true);
    entry.writing ??= (async () => {
      const body = encodeArchive(entry.jobs);
      try {
        await this.#store.put(key, body, { condition: { ifNoneMatch: "*" } });
        this.#metrics.bytes += body.length;
      } catch (error) {
        if (!(error instanceof ConflictError)) {
          this.#metrics.failures++;
          this.#log({ event: "archive-error", key, error: String(error) });
          entry.writing = undefined;
          return false;
        }
      }
      this.#metrics.writes++;
      this.#pending.delete(key);
      return true;
    })();
    return entry.writing;
  }
}
