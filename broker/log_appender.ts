/**
 * Appending one log record ({@linkcode LogAppender}): creates the next record
 * with `If-None-Match: *` and classifies the outcome (landed, conflict with a
 * newer state, deposed, or a storage error), resolving ambiguous writes by
 * reading the record back and confirming a record that landed late by
 * re-reading the head. The `StateStore` owns the head and hands each append
 * here with the head's epoch.
 *
 * @module
 */
import { AmbiguousWriteError, ConflictError, OsqueueError, UnavailableError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { BatchEffects } from "../core/effects.ts";
import { archiveKey } from "../core/archive.ts";
import type { BrokerIdentity, QueueState } from "../core/state.ts";
import type { Opened } from "./head.ts";
import { decodeLogRecord, encodeLogRecord, logKey, type LogRecord } from "./log_record.ts";
import { type ArchiveWrite, type ReplayedTail, replayLog, withRecordMeta } from "./log_replay.ts";

/** The outcome of {@linkcode LogAppender.append}. */
export type AppendOutcome =
  | { kind: "landed"; state: QueueState; record: LogRecord; bytes: number }
  | { kind: "conflict"; state: QueueState; archives: ArchiveWrite[] }
  | { kind: "deposed"; leader: BrokerIdentity | null; epoch: number }
  | { kind: "error"; error: OsqueueError };

/** A batch to append: the effects that turned `before` into `after`, and the jobs it archives. */
export interface AppendBatch {
  /** The state the batch was applied to (its `commit` + 1 is the record's sequence number). */
  before: QueueState;
  /** The state after the batch. */
  after: QueueState;
  /** What the batch changed. */
  effects: BatchEffects;
  /** Jobs the record moves to an archive object. */
  archiveIds?: readonly string[];
}

/** Options of {@linkcode LogAppender}. */
export interface LogAppenderOptions {
  /** Where the log lives. */
  store: ObjectStore;
  /** Key prefix of this queue (empty or ending in `/`). */
  prefix: string;
  /** This broker (the records' writer). */
  identity: BrokerIdentity;
  /** The current time, epoch ms. */
  now: () => number;
  /** A fresh unique string per write attempt. */
  newNonce: () => string;
  /** A record landing more than this long after the previous one started is confirmed (see `StateStoreOptions`). */
  confirmAfterMs: number;
  /** Reads the head key without adopting it (the confirmation of a late record). */
  readHead: () => Promise<Opened>;
  /** Receives structured events. */
  log: (event: { event: string; [field: string]: unknown }) => void;
}

/** How often an ambiguous write is read back and retried before giving up. */
const AMBIGUITY_ROUNDS = 5;

/** Appends log records for one broker and remembers what its last landed record proved. */
export class LogAppender {
  readonly #store: ObjectStore;
  readonly #prefix: string;
  readonly #identity: BrokerIdentity;
  readonly #now: () => number;
  readonly #newNonce: () => string;
  readonly #confirmAfterMs: number;
  readonly #readHead: () => Promise<Opened>;
  readonly #log: (event: { event: string; [field: string]: unknown }) => void;
  /** When the write of the last landed (and confirmed) record started. */
  #lastLandedStart = -Infinity;
  /** Set when a confirmation found another broker's head: this epoch is over. */
  #fenced: { leader: BrokerIdentity | null; epoch: number } | undefined;

  /** Builds an appender; nothing is written until called. */
  constructor(options: LogAppenderOptions) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#identity = options.identity;
    this.#now = options.now;
    this.#newNonce = options.newNonce;
    this.#confirmAfterMs = options.confirmAfterMs;
    this.#readHead = options.readHead;
    this.#log = options.log;
  }

  /** A new leadership starts: not fenced, and its first record is confirmed. */
  reset(): void {
    this.#fenced = undefined;
    this.#lastLandedStart = -Infinity;
  }

  /**
   * Creates the next log record holding `effects` (the batch that turned
   * `before` into `after`), written by this broker in `epoch` (the head's).
   *
   * - `landed`: `state` is `after`, committed at the record's sequence number;
   * - `conflict`: another record took the sequence number first; `state` is
   *   `before` with every newer record applied: re-apply the batch on it;
   * - `deposed`: a newer epoch wrote the log: step down;
   * - `error`: nothing (known to be) written; the batch fails.
   */
  async append(batch: AppendBatch, epoch: number): Promise<AppendOutcome> {
    const seq = batch.before.commit + 1;
    if (this.#fenced !== undefined) return { kind: "deposed", ...this.#fenced };
    if (batch.before.epoch > epoch) {
      // The log already holds a newer epoch's records (e.g. read while taking
      // over slowly): a record of this epoch would be void, never commit it.
      return { kind: "deposed", leader: batch.before.leader, epoch: batch.before.epoch };
    }
    const at = this.#now();
    const record: LogRecord = {
      seq,
      epoch,
      writer: this.#identity,
      nonce: this.#newNonce(),
      at,
      effects: batch.effects,
    };
    if (batch.archiveIds !== undefined && batch.archiveIds.length > 0) {
      record.archive = {
        key: archiveKey({ prefix: `${this.#prefix}archive/`, time: at, epoch, commit: seq }),
        ids: [...batch.archiveIds],
      };
    }
    const body = encodeLogRecord(record);
    const key = logKey(this.#prefix, seq);
    const landed = (): Promise<AppendOutcome> =>
      this.#confirmed(at, {
        kind: "landed",
        state: withRecordMeta(batch.after, record),
        record,
        bytes: body.length,
      });
    for (let round = 0;; round++) {
      try {
        await this.#store.put(key, body, { condition: { ifNoneMatch: "*" } });
        return await landed();
      } catch (error) {
        if (error instanceof ConflictError) {
          return await this.#afterConflict(batch.before, record, landed);
        }
        if (!(error instanceof AmbiguousWriteError)) {
          return { kind: "error", error: asStorageError(error, "log write failed") };
        }
        this.#log({ event: "ambiguous-write", seq, error: error.message });
        if (round >= AMBIGUITY_ROUNDS) {
          return {
            kind: "error",
            error: new UnavailableError(
              `the outcome of log record ${seq} stayed unknown after ${round + 1} tries; ` +
                "the batch may or may not have been committed",
              { cause: error },
            ),
          };
        }
        // Read it back: ours (landed), another's (conflict) or absent (write it again).
        let found;
        try {
          found = await this.#store.get(key);
        } catch {
          continue;
        }
        if (found !== null) {
          return await this.#afterConflict(batch.before, record, landed, found.body);
        }
      }
    }
  }

  /**
   * A record that landed long after this broker's previous landed write
   * started (a freeze, a slow write, the first write of a leadership) may
   * have landed in a sequence number that a newer leader already used and
   * garbage-collected: `If-None-Match` cannot tell. It counts only if
   * the head, read now, is still this broker's in this epoch. Otherwise its
   * effect is unknown (an error), and this broker writes nothing more in
   * this epoch.
   */
  async #confirmed(
    started: number,
    outcome: Extract<AppendOutcome, { kind: "landed" }>,
  ): Promise<AppendOutcome> {
    if (this.#now() - this.#lastLandedStart > this.#confirmAfterMs) {
      let opened: Opened;
      try {
        opened = await this.#readHead();
      } catch (error) {
        return { kind: "error", error: asStorageError(error, "head re-read failed") };
      }
      const { seq, epoch } = outcome.record;
      if (
        opened.kind !== "head" || opened.head.epoch !== epoch ||
        opened.head.leader?.id !== this.#identity.id
      ) {
        this.#log({ event: "late-record", seq, epoch });
        // Another broker is taking over: write nothing more in this epoch.
        this.#fenced = opened.kind === "head"
          ? { leader: opened.head.leader, epoch: opened.head.epoch }
          : { leader: null, epoch };
        // Whether it counts depends on whether it landed before the new
        // leader read the log (then it does) or after that number had been
        // collected (then it does not): the batch's outcome is unknown.
        return {
          kind: "error",
          error: new UnavailableError(
            `log record ${seq} landed after the head changed; it may or may not count`,
          ),
        };
      }
    }
    this.#lastLandedStart = Math.max(this.#lastLandedStart, started);
    return outcome;
  }

  /** Sequence `record.seq` is taken: ours after all, a newer epoch, or records to catch up on. */
  async #afterConflict(
    before: QueueState,
    record: LogRecord,
    landed: () => Promise<AppendOutcome>,
    body?: Uint8Array,
  ): Promise<AppendOutcome> {
    try {
      const key = logKey(this.#prefix, record.seq);
      const bytes = body ?? (await this.#store.get(key))?.body;
      if (bytes === undefined) {
        // The store said "exists" but nothing is there (a store glitch, or a
        // record collected already): re-read from here and try again.
        const { state, archives } = await this.#replayFrom(before);
        return { kind: "conflict", state, archives };
      }
      const found = decodeLogRecord(bytes, key);
      if (found.nonce === record.nonce) return await landed();
      if (found.epoch > record.epoch) {
        return { kind: "deposed", leader: found.writer, epoch: found.epoch };
      }
      const { state, archives } = await this.#replayFrom(before);
      if (state.epoch > record.epoch) {
        return { kind: "deposed", leader: state.leader, epoch: state.epoch };
      }
      return { kind: "conflict", state, archives };
    } catch (error) {
      return { kind: "error", error: asStorageError(error, "log re-read failed") };
    }
  }

  /** Reads and applies the log records after `state.commit` until the first missing one. */
  #replayFrom(start: QueueState): Promise<ReplayedTail> {
    return replayLog({ store: this.#store, prefix: this.#prefix, state: start });
  }
}

function asStorageError(error: unknown, what: string): OsqueueError {
  return error instanceof OsqueueError
    ? error
    : new UnavailableError(`${what}: ${String(error)}`, { cause: error });
}
