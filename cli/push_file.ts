/**
 * Bulk push from a file of JSON lines (`osqueue push --file jobs.jsonl`):
 * every line is checked first (a bad line is reported with its number and
 * nothing is pushed), then the jobs go in batches, with progress on stderr.
 *
 * @module
 */
import { LIMITS, type PushJob } from "@osqueue/osqueue/protocol";
import { InvalidError } from "@osqueue/osqueue/worker";
import { type ConnectionFlags, restCall } from "./rest_client.ts";
import { formatCount, formatDuration } from "./format.ts";

/** Options of {@linkcode pushFile}. */
export interface PushFileOptions {
  /** The broker. */
  flags: ConnectionFlags;
  /** The file's text. */
  text: string;
  /** The file's name, for messages. */
  name: string;
  /** Jobs per request (default 500, at most the broker's limit of 1000). */
  batchSize?: number;
  /** Fields every job gets unless its line sets them (e.g. `type`). */
  defaults?: Partial<PushJob>;
  /** Receives progress lines (default: none). */
  progress?: (line: string) => void;
  /** The time (default `performance.now`). */
  now?: () => number;
}

/** What {@linkcode pushFile} did. */
export interface PushFileResult {
  /** Jobs sent. */
  jobs: number;
  /** Of which were duplicates (idempotency key known). */
  duplicates: number;
  /** The new jobs' ids, in file order. */
  ids: string[];
  /** Time taken, ms. */
  ms: number;
}

/** Parses the lines of a JSON-lines file into jobs; throws `InvalidError` naming the first bad line. */
export function parseJobLines(
  text: string,
  name: string,
  defaults: Partial<PushJob> = {},
): PushJob[] {
  const jobs: PushJob[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidError(
        `${name}:${index + 1}: not valid JSON (${error instanceof Error ? error.message : error})`,
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InvalidError(
        `${name}:${index + 1}: expected a JSON object like {"type": "…", "payload": …}`,
      );
    }
    const job = { ...defaults, ...value } as Partial<PushJob>;
    if (typeof job.type !== "string" || job.type === "") {
      throw new InvalidError(
        `${name}:${index + 1}: "type" is missing (or give --type for every line)`,
      );
    }
    if (job.payload === undefined) job.payload = null;
    jobs.push(job as PushJob);
  });
  if (jobs.length === 0) throw new InvalidError(`${name}: no jobs (empty file?)`);
  return jobs;
}

/** Pushes every job of a JSON-lines file, in batches, reporting progress. */
export async function pushFile(options: PushFileOptions): Promise<PushFileResult> {
  const now = options.now ?? (() => performance.now());
  const jobs = parseJobLines(options.text, options.name, options.defaults);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, LIMITS.maxPushBatch));
  const start = now();
  const ids: string[] = [];
  let duplicates = 0;
  for (let offset = 0; offset < jobs.length; offset += batchSize) {
    const batch = jobs.slice(offset, offset + batchSize);
    let reply: { jobs: { id: string; duplicate: boolean }[] };
    try {
      reply = await restCall(options.flags, "POST", "/v1/jobs", { jobs: batch }) as typeof reply;
    } catch (error) {
      const where = `lines with jobs ${offset + 1}–${offset + batch.length}`;
      const message = error instanceof Error ? error.message : String(error);
      throw Object.assign(
        new InvalidError(
          `${options.name}: ${where} were refused: ${message}${
            offset > 0 ? ` (the ${offset} jobs before them were pushed)` : ""
          }`,
        ),
        { cause: error },
      );
    }
    for (const job of reply.jobs) {
      ids.push(job.id);
      if (job.duplicate) duplicates++;
    }
    const done = offset + batch.length;
    const elapsed = now() - start;
    const rate = elapsed > 0 ? Math.round(done / (elapsed / 1000)) : 0;
    options.progress?.(
      `pushed ${formatCount(done)}/${formatCount(jobs.length)} (${
        Math.floor((done / jobs.length) * 100)
      }%) ${formatCount(rate)} jobs/s`,
    );
  }
  return { jobs: jobs.length, duplicates, ids, ms: now() - start };
}

/** A one-line summary of a bulk push. */
export function formatPushFile(result: PushFileResult): string {
  return `pushed ${formatCount(result.jobs)} job(s)${
    result.duplicates ? ` (${formatCount(result.duplicates)} duplicate)` : ""
  } in ${formatDuration(result.ms)}`;
}
