/**
 * Reading finished jobs back from the archive (see `core/archive.ts` for the
 * layout: `archive/YYYY/MM/DD/HH/<epoch>-<commit>.jsonl`, one JSON job per
 * line, oldest finished first). Lists walk the archive newest first, one UTC
 * day prefix at a time (one `store.list` per day), and read only the objects
 * a page needs. Archive objects never change, so decoded ones are cached.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Job, JobState } from "../protocol/operations.ts";
import type { ObjectStore } from "../storage/types.ts";
import { decodeArchive } from "../core/archive.ts";

/** Options of {@linkcode ArchiveReader}. */
export interface ArchiveReaderOptions {
  /** The queue's store. */
  store: ObjectStore;
  /** The queue's key prefix (default ``); archives live under `<prefix>archive/`. */
  prefix?: string;
  /** Decoded archive objects kept in memory (default 64). */
  cacheObjects?: number;
  /** Clock for the default time range (default `Date.now`). */
  now?: () => number;
}

/** What {@linkcode ArchiveReader.list} returns. */
export interface ArchiveQuery {
  /** Only jobs in this state (`completed`, `dead` or `cancelled`); all when absent. */
  state?: JobState;
  /** Only this type. */
  type?: string;
  /** Only archive objects written at or after this epoch ms (default: 7 days before `to`). */
  from?: number;
  /** Only archive objects written before this epoch ms (default: now + 1 hour). */
  to?: number;
  /** The `next` of the previous page. */
  cursor?: string;
  /** Page size (default 50). */
  limit?: number;
}

/** One page of archived jobs, newest first. */
export interface ArchivePage {
  /** The jobs, newest archived first. */
  jobs: Job[];
  /** Cursor for the next page, when there may be more. */
  next?: string;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Default look-back of a list. */
export const DEFAULT_ARCHIVE_RANGE_MS = 7 * DAY_MS;

/** Reads archived jobs: pages by state and type over a time range, and lookups by id. */
export class ArchiveReader {
  readonly #store: ObjectStore;
  readonly #root: string;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Job[]>();

  /** A reader over `options.store`. */
  constructor(options: ArchiveReaderOptions) {
    this.#store = options.store;
    this.#root = (options.prefix ?? "") + "archive/";
    this.#cacheSize = options.cacheObjects ?? 64;
    this.#now = options.now ?? Date.now;
  }

  /** Archive object keys written in `[from, to)`, newest first. */
  async *keys(range: { from?: number; to?: number } = {}): AsyncGenerator<string> {
    const to = range.to ?? this.#now() + HOUR_MS;
    const from = range.from ?? to - DEFAULT_ARCHIVE_RANGE_MS;
    for (let day = startOfDay(to - 1); day >= startOfDay(from); day -= DAY_MS) {
      const keys = await this.#store.list(this.#root + dayPath(day));
      const inRange = keys.filter((key) => {
        const hour = keyHour(key.slice(this.#root.length));
        return hour !== undefined && hour + HOUR_MS > from && hour < to;
      });
      inRange.sort().reverse();
      yield* inRange;
    }
  }

  /** The jobs of one archive object, oldest finished first (cached). */
  async read(key: string): Promise<Job[]> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const found = await this.#store.get(key);
    const jobs = found === null ? [] : decodeArchive(found.body);
    this.#cache.set(key, jobs);
    while (this.#cache.size > this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    return jobs;
  }

  /** One page of archived jobs matching `query`, newest first. */
  async list(query: ArchiveQuery = {}): Promise<ArchivePage> {
    const limit = Math.max(1, Math.min(query.limit ?? 50, 1000));
    const cursor = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const to = cursor === undefined ? query.to : Math.min(
      query.to ?? Infinity,
      (keyHour(cursor.key.slice(this.#root.length)) ?? 0) + HOUR_MS,
    );
    const jobs: Job[] = [];
    let last = "";
    for await (const key of this.keys({ from: query.from, to: to === Infinity ? undefined : to })) {
      if (cursor !== undefined && key > cursor.key) continue;
      const lines = await this.read(key);
      const start = cursor !== undefined && key === cursor.key ? cursor.line - 1 : lines.length - 1;
      for (let line = start; line >= 0; line--) {
        const job = lines[line];
        if (query.state !== undefined && job.state !== query.state) continue;
        if (query.type !== undefined && job.type !== query.type) continue;
        if (jobs.length === limit) return { jobs, next: last };
        jobs.push(job);
        last = `${key}#${line}`;
      }
    }
    return { jobs };
  }

  /** The archived record of job `id`, searching newest first over the range (a scan: O(archive)). */
  async find(id: string, range: { from?: number; to?: number } = {}): Promise<Job | undefined> {
    for await (const key of this.keys(range)) {
      const job = (await this.read(key)).find((candidate) => candidate.id === id);
      if (job !== undefined) return job;
    }
    return undefined;
  }
}

function parseCursor(text: string): { key: string; line: number } {
  const at = text.lastIndexOf("#");
  const line = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(line) || line < 0) {
    throw new InvalidError(`archive cursor ${JSON.stringify(text)} is malformed`);
  }
  return { key: text.slice(0, at), line };
}

function startOfDay(time: number): number {
  return Math.floor(time / DAY_MS) * DAY_MS;
}

function dayPath(time: number): string {
  const date = new Date(time);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCFullYear()}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())}/`;
}

/** The UTC hour (epoch ms) of an archive key relative to the archive root, e.g. `2026/11/22/19/…`. */
function keyHour(relative: string): number | undefined {
  const match = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//.exec(relative);
  if (match === null) return undefined;
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]));
}
