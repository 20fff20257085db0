/**
 * Replaying the log: reading the records after a state's sequence number
 * until the first missing one (one read first, then windows read in
 * parallel), and applying each. A record of an epoch lower than the state's
 * is void: it takes its sequence number and changes nothing (a deposed
 * leader's late write cannot count after the new leader's first record).
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import { type BatchEffects, jobsById, replayEffects } from "../core/effects.ts";
import type { QueueState } from "../core/state.ts";
import type { Job } from "../protocol/operations.ts";
import { decodeLogRecord, logKey, type LogRecord } from "./log_record.ts";

/** How many log records are read at once when a tail turns out to be long. */
const READ_WINDOW = 16;

/** Effects that change nothing. */
export const EMPTY_EFFECTS: BatchEffects = { add: [], set: [], del: [] };

/** An archive object a record asks for, with the jobs it must hold. */
export interface ArchiveWrite {
  /** The archive object's key. */
  key: string;
  /** The jobs, as they were before the record removed them. */
  jobs: Job[];
}

/** What {@linkcode replayLog} found. */
export interface ReplayedTail {
  /** The state after the last record. */
  state: QueueState;
  /** The archive objects the records asked for. */
  archives: ArchiveWrite[];
  /** How many records were applied. */
  records: number;
  /** Their bytes. */
  bytes: number;
}

/** Reads and applies the log records after `options.state.commit` until the first missing one. */
export async function replayLog(
  options: { store: ObjectStore; prefix: string; state: QueueState },
): Promise<ReplayedTail> {
  const { store, prefix } = options;
  let state = options.state;
  const archives: ArchiveWrite[] = [];
  let records = 0;
  let bytes = 0;
  let window = 1;
  for (;;) {
    const first = state.commit + 1;
    const bodies = await Promise.all(
      Array.from({ length: window }, (_, i) => store.get(logKey(prefix, first + i))),
    );
    for (let i = 0; i < bodies.length; i++) {
      const found = bodies[i];
      if (found === null) return { state, archives, records, bytes };
      const record = decodeLogRecord(found.body, logKey(prefix, first + i));
      const applied = applyRecord(state, record);
      if (applied.archive !== undefined) archives.push(applied.archive);
      state = applied.state;
      records++;
      bytes += found.body.length;
    }
    window = READ_WINDOW;
  }
}

/** `state` after `record`: its effects, its epoch, sequence number and writer. Void records change nothing. */
export function applyRecord(
  state: QueueState,
  record: LogRecord,
): { state: QueueState; archive?: ArchiveWrite } {
  if (record.seq !== state.commit + 1) {
    throw new InvalidError(
      `invalid state: log record ${record.seq} follows ${state.commit}: the log has a hole`,
    );
  }
  if (record.epoch < state.epoch) {
    // A deposed leader's late record: void, but it takes its sequence number.
    return {
      state: withRecordMeta(state, {
        ...record,
        epoch: state.epoch,
        writer: state.leader ?? record.writer,
      }),
    };
  }
  const archive = record.archive === undefined
    ? undefined
    : { key: record.archive.key, jobs: jobsById(state, record.archive.ids) };
  const next = replayEffects(state, record.effects, {
    epoch: record.epoch,
    commit: record.seq,
    leader: record.writer,
    where: `log record ${record.seq}`,
  });
  return archive === undefined ? { state: next } : { state: next, archive };
}

/** `state` as of `record` (its epoch, sequence number and writer) with no effects. */
export function withRecordMeta(
  state: QueueState,
  record: Pick<LogRecord, "epoch" | "seq" | "writer">,
): QueueState {
  return replayEffects(state, EMPTY_EFFECTS, {
    epoch: record.epoch,
    commit: record.seq,
    leader: record.writer,
    where: `log record ${record.seq}`,
  });
}
