/**
 * Log records: one object per commit, `log/<seq>.json` under the queue's
 * prefix, created with `If-None-Match: *` — creating sequence N is the
 * commit's compare-and-swap, so exactly one writer gets each N. A record
 * holds the batch's effects (see `core/effects.ts`), the writer's epoch and
 * id, and a nonce that lets the writer recognise its own record after an
 * ambiguous write. Pure: encoding and decoding only.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { BatchEffects } from "../core/effects.ts";
import { isCount, isObject } from "../core/job_codec.ts";
import type { BrokerIdentity } from "../core/state.ts";
import type { JsonValue, QueueTotals } from "../protocol/operations.ts";

/** The `format` field of a log record. */
export const LOG_FORMAT = "osqueue-log";

/** One commit as stored. */
export interface LogRecord {
  /** Its sequence number (the key's number). */
  seq: number;
  /** The writer's leader epoch. */
  epoch: number;
  /** The writer. */
  writer: BrokerIdentity;
  /** Unique per write attempt: tells the writer its own record from another's. */
  nonce: string;
  /** The writer's clock when it wrote the record, epoch ms. */
  at: number;
  /** What the batch changed. */
  effects: BatchEffects;
  /**
   * Finished jobs this record removes to an archive object: written to `key`
   * (If-None-Match) once the record has landed, from the jobs as they were
   * before it.
   */
  archive?: { key: string; ids: string[] };
}

/** The key of log record `seq` under `prefix` (`…log/000000000042.json`). */
export function logKey(prefix: string, seq: number): string {
  return `${prefix}log/${String(seq).padStart(12, "0")}.json`;
}

/** The sequence number in a log key, or undefined for another key. */
export function logSeqOf(prefix: string, key: string): number | undefined {
  const match = key.startsWith(`${prefix}log/`)
    ? /^(\d{12})\.json$/.exec(key.slice(prefix.length + 4))
    : null;
  return match === null ? undefined : Number(match[1]);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A record's bytes (JSON). */
export function encodeLogRecord(record: LogRecord): Uint8Array {
  const { effects } = record;
  const out: Record<string, unknown> = {
    format: LOG_FORMAT,
    version: 2,
    seq: record.seq,
    epoch: record.epoch,
    writer: record.writer,
    nonce: record.nonce,
    at: record.at,
  };
  if (effects.nextSeq !== undefined) out.nextSeq = effects.nextSeq;
  if (effects.totals !== undefined) out.totals = effects.totals;
  if (effects.extra !== undefined) out.extra = effects.extra;
  if (effects.add.length > 0) out.add = effects.add;
  if (effects.set.length > 0) out.set = effects.set;
  if (effects.del.length > 0) out.del = effects.del;
  if (record.archive !== undefined) out.archive = record.archive;
  return encoder.encode(JSON.stringify(out));
}

/** Reads a record, checking its envelope; throws an {@linkcode InvalidError} naming `where`. */
export function decodeLogRecord(bytes: Uint8Array, where: string): LogRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidError(`invalid state: ${where}: not UTF-8 JSON (${String(error)})`);
  }
  const bad = (what: string): never => {
    throw new InvalidError(`invalid state: ${where}: bad ${what}`);
  };
  if (!isObject(raw) || raw.format !== LOG_FORMAT) bad("format");
  const r = raw as Record<string, unknown>;
  if (r.version !== 2) bad("version");
  if (!isCount(r.seq)) bad("seq");
  if (!isCount(r.epoch)) bad("epoch");
  if (!isObject(r.writer) || typeof r.writer.id !== "string") bad("writer");
  const writer = r.writer as Record<string, unknown>;
  if (writer.url !== undefined && typeof writer.url !== "string") bad("writer.url");
  if (typeof r.nonce !== "string") bad("nonce");
  if (typeof r.at !== "number" || !Number.isFinite(r.at)) bad("at");
  const list = (field: string): unknown[] => {
    const value = r[field] ?? [];
    if (!Array.isArray(value)) bad(field);
    return value as unknown[];
  };
  const add = list("add");
  const set = list("set");
  const del = list("del");
  if (!add.every(isObject)) bad("add");
  if (!set.every(isObject)) bad("set");
  if (!del.every((id) => typeof id === "string")) bad("del");
  const effects: BatchEffects = {
    add: add as Record<string, unknown>[],
    set: set as Record<string, unknown>[],
    del: del as string[],
  };
  if (r.nextSeq !== undefined) {
    if (!isCount(r.nextSeq) || r.nextSeq < 1) bad("nextSeq");
    effects.nextSeq = r.nextSeq as number;
  }
  if (r.totals !== undefined) {
    if (!isObject(r.totals) || !Object.values(r.totals).every(isCount)) bad("totals");
    effects.totals = r.totals as unknown as QueueTotals;
  }
  if (r.extra !== undefined) {
    if (!isObject(r.extra)) bad("extra");
    effects.extra = r.extra as Record<string, JsonValue>;
  }
  const record: LogRecord = {
    seq: r.seq as number,
    epoch: r.epoch as number,
    writer: writer.url === undefined
      ? { id: writer.id as string }
      : { id: writer.id as string, url: writer.url as string },
    nonce: r.nonce as string,
    at: r.at as number,
    effects,
  };
  if (r.archive !== undefined) {
    const archive = r.archive;
    if (
      !isObject(archive) || typeof archive.key !== "string" || !Array.isArray(archive.ids) ||
      !archive.ids.every((id) => typeof id === "string")
    ) bad("archive");
    record.archive = {
      key: (archive as { key: string }).key,
      ids: (archive as { ids: string[] }).ids,
    };
  }
  return record;
}
