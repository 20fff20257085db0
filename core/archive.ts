/**
 * Archive objects: finished jobs leave the state and are written, as JSON
 * lines, to time-bucketed keys such as `archive/2026/11/22/19/00000003-000000000042.jsonl`
 * (UTC hour of the write, then the epoch and commit of the state that drops them).
 *
 * @module
 */
import type { Job } from "../protocol/operations.ts";
import { restoreJob, storedJob } from "./job_codec.ts";

/** Where an archive object goes. */
export interface ArchiveKeyOptions {
  /** Key prefix ending in `/`, e.g. `archive/` or `queues/emails/archive/`. */
  prefix: string;
  /** Epoch ms of the write; its UTC year/month/day/hour make the bucket. */
  time: number;
  /** The leader's epoch. */
  epoch: number;
  /** The commit that removes these jobs from the state. */
  commit: number;
}

/** The key of an archive object; keys sort by time, then epoch and commit. */
export function archiveKey(options: ArchiveKeyOptions): string {
  const date = new Date(options.time);
  const two = (n: number) => String(n).padStart(2, "0");
  const bucket = `${date.getUTCFullYear()}/${two(date.getUTCMonth() + 1)}/${
    two(date.getUTCDate())
  }/${two(date.getUTCHours())}`;
  const name = `${String(options.epoch).padStart(8, "0")}-${
    String(options.commit).padStart(12, "0")
  }.jsonl`;
  return `${options.prefix}${bucket}/${name}`;
}

/**
 * Encodes finished jobs as JSON lines, each in the compact stored form of
 * `job_codec.ts` (fields that hold their default are left out).
 */
export function encodeArchive(jobs: readonly Job[]): Uint8Array {
  return new TextEncoder().encode(
    jobs.map((job) => JSON.stringify(storedJob(job))).join("\n") + "\n",
  );
}

/**
 * Decodes an archive object back into job records (skips blank lines);
 * reads the compact stored form and the full records older archives hold.
 */
export function decodeArchive(body: Uint8Array): Job[] {
  return new TextDecoder().decode(body).split("\n").filter((line) => line.trim() !== "").map(
    (line, i) => restoreJob(JSON.parse(line), `archive line ${i + 1}`),
  );
}
