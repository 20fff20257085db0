/**
 * The broker's persistence seam: every read and write of the queue's state
 * goes through a {@linkcode StateStore}. It speaks the log-structured layout
 * (see `head.ts`, `log_record.ts`, `checkpoint.ts`):
 *
 * - `load()` reads the head, the checkpoint it points at, then the log
 *   records after it until the first missing sequence number;
 * - `create()` / `takeOver()` change the head with compare-and-swap and then
 *   append a record of the new epoch, which fences out the previous leader;
 * - `append()` creates the next log record with `If-None-Match: *` and
 *   classifies the outcome (landed, conflict with a newer state, deposed, or
 *   a storage error), resolving ambiguous writes by reading the record back
 *   (`log_appender.ts`);
 * - `follow()` lets a standby tail the log;
 * - `resign()` writes `leader: null`.
 *
 * Records of an epoch lower than one already replayed are void (a deposed
 * leader's late write cannot count after the new leader's first record).
 *
 * @module
 */
import { AmbiguousWriteError, ConflictError, InvalidError, UnavailableError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import { type BrokerIdentity, createState, decodeState, type QueueState } from "../core/state.ts";
import { decodeHead, encodeHead, type Head, type Manifest, type Opened } from "./head.ts";
import { EMPTY_EFFECTS, type ReplayedTail, replayLog } from "./log_replay.ts";
import { loadCheckpoint, MissingObjectError, writeCheckpoint } from "./checkpoint.ts";
import { type AppendBatch, type AppendOutcome, LogAppender } from "./log_appender.ts";

/** Options of {@linkcode StateStore}. */
export interface StateStoreOptions {
  /** Where everything lives. */
  store: ObjectStore;
  /** Key prefix of this queue (empty or ending in `/`). */
  prefix: string;
  /** The head object's key under the prefix (default `queue.json`). */
  headKey?: string;
  /** This broker. */
  identity: BrokerIdentity;
  /** The current time, epoch ms. */
  now: () => number;
  /** A fresh unique string per write attempt (default `crypto.randomUUID`). */
  newNonce?: () => string;
  /**
   * A log record that lands more than this long after the previous landed
   * record's write started (and the first of a leadership) is confirmed by
   * reading the head before it counts (default: never). A newer leader
   * garbage-collects a sequence number only at its second checkpoint, at
   * least `checkpointMinIntervalMs` after its takeover record, which landed
   * after this broker's last record: the broker passes half that interval.
   */
  confirmAfterMs?: number;
  /** Receives structured events. */
  log?: (event: { event: string; [field: string]: unknown }) => void;
}

export type { ArchiveWrite } from "./log_replay.ts";
import type { ArchiveWrite } from "./log_replay.ts";

/** The state a broker works from, and what loading it found. */
export interface LoadedState {
  /** The materialised state; `commit` is the last log sequence number applied. */
  state: QueueState;
  /** The head as read. */
  head: Head;
  /** The manifest of the head's checkpoint, if there is one. */
  manifest: Manifest | null;
  /** The checkpoint's own state, before the log tail (what the next checkpoint is compared with). */
  base: QueueState;
  /** Archive objects that records in the log tail asked for (they may already exist). */
  archives: ArchiveWrite[];
  /** Log records read after the checkpoint. */
  tail: number;
  /** Their bytes. */
  tailBytes: number;
}

export type { Opened } from "./head.ts";

export type { AppendBatch, AppendOutcome } from "./log_appender.ts";

/** Reads and writes the queue's state in the log-structured layout. */
export class StateStore {
  readonly #store: ObjectStore;
  readonly #prefix: string;
  readonly #headKey: string;
  readonly #identity: BrokerIdentity;
  readonly #log: (event: { event: string; [field: string]: unknown }) => void;
  readonly #appender: LogAppender;
  #headEtag = "";
  #head: Head = { epoch: 0, leader: null, checkpoint: null };

  /** Builds a store view; nothing is read until called. */
  constructor(options: StateStoreOptions) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#headKey = options.prefix + (options.headKey ?? "queue.json");
    this.#identity = options.identity;
    this.#log = options.log ?? (() => {});
    this.#appender = new LogAppender({
      store: options.store,
      prefix: options.prefix,
      identity: options.identity,
      now: options.now,
      newNonce: options.newNonce ?? (() => crypto.randomUUID()),
      confirmAfterMs: options.confirmAfterMs ?? Infinity,
      readHead: () => this.#read(),
      log: this.#log,
    });
  }

  /** The object store. */
  get store(): ObjectStore {
    return this.#store;
  }

  /** The queue's key prefix. */
  get prefix(): string {
    return this.#prefix;
  }

  /** The head as last read or written by this broker. */
  get head(): Head {
    return this.#head;
  }

  /** Reads the head key: absent, a version-1 state to migrate, or a head. */
  async open(): Promise<Opened> {
    const opened = await this.#read();
    if (opened.kind === "head") {
      this.#head = opened.head;
      this.#headEtag = opened.etag;
    }
    return opened;
  }

  /**
   * Reads the head key without adopting it. A leader re-reading the head
   * must not take on another broker's epoch: its records would then be
   * written in that epoch (two writers in one epoch).
   */
  async #read(): Promise<Opened> {
    const found = await this.#store.get(this.#headKey);
    if (found === null) return { kind: "absent" };
    const content = decodeHead(found.body);
    if (content.kind === "v1") {
      return { kind: "v1", state: decodeState(found.body), etag: found.etag };
    }
    return { kind: "head", head: content.head, etag: found.etag };
  }

  /**
   * Loads the state the head describes: checkpoint, then the log tail. A
   * checkpoint object that vanished (garbage-collected under a slow reader)
   * makes it re-read the head and start over, a few times.
   */
  async load(opened?: Extract<Opened, { kind: "head" }>): Promise<LoadedState> {
    for (let attempt = 0;; attempt++) {
      const current = opened ?? await this.#read();
      opened = undefined;
      if (current.kind !== "head") {
        throw new InvalidError(`cannot load: the head is ${current.kind}`);
      }
      const head = current.head;
      let base: { state: QueueState; manifest: Manifest | null };
      try {
        base = head.checkpoint === null
          ? { state: createState(), manifest: null }
          : await loadCheckpoint({ store: this.#store, key: head.checkpoint.key });
      } catch (error) {
        if (!(error instanceof MissingObjectError) || attempt >= 3) throw error;
        this.#log({ event: "checkpoint-vanished", key: error.key, attempt });
        continue;
      }
      const { state, archives, records, bytes } = await this.#replayFrom(base.state);
      return {
        state,
        head,
        manifest: base.manifest,
        base: base.state,
        archives,
        tail: records,
        tailBytes: bytes,
      };
    }
  }

  /** Reads and applies the log records after `state.commit` until the first missing one. */
  #replayFrom(start: QueueState): Promise<ReplayedTail> {
    return replayLog({ store: this.#store, prefix: this.#prefix, state: start });
  }

  /**
   * Creates the queue: the head (If-None-Match), epoch 1, led by this broker,
   * then the first log record. Returns null when another broker created it first.
   */
  async create(): Promise<LoadedState | null> {
    this.#appender.reset();
    const head: Head = { epoch: 1, leader: this.#identity, checkpoint: null };
    try {
      this.#headEtag = await this.#store.put(this.#headKey, encodeHead(head), {
        condition: { ifNoneMatch: "*" },
      });
    } catch (error) {
      if (error instanceof ConflictError) return null;
      if (error instanceof AmbiguousWriteError) {
        const opened = await this.open();
        if (opened.kind !== "head" || opened.head.leader?.id !== this.#identity.id) return null;
        return await this.#fence(await this.load(opened));
      }
      throw error;
    }
    this.#head = head;
    this.#appender.reset();
    return await this.#fence({
      state: createState(),
      head,
      manifest: null,
      base: createState(),
      archives: [],
      tail: 0,
      tailBytes: 0,
    });
  }

  /**
   * Converts a version-1 single-object state: writes it as a checkpoint, then
   * replaces the old object with a head (If-Match) in a new epoch led by this
   * broker. Returns null when the old object changed meanwhile.
   */
  async migrate(opened: Extract<Opened, { kind: "v1" }>): Promise<LoadedState | null> {
    const epoch = opened.state.epoch + 1;
    const written = await writeCheckpoint({
      store: this.#store,
      prefix: this.#prefix,
      state: opened.state,
      epoch,
      previous: null,
      archives: [],
    });
    const head: Head = {
      epoch,
      leader: this.#identity,
      checkpoint: { seq: opened.state.commit, key: written.key },
    };
    try {
      this.#headEtag = await this.#store.put(this.#headKey, encodeHead(head), {
        condition: { ifMatch: opened.etag },
      });
    } catch (error) {
      if (error instanceof ConflictError || error instanceof AmbiguousWriteError) return null;
      throw error;
    }
    this.#head = head;
    this.#appender.reset();
    this.#log({ event: "migrated", from: 1, jobs: written.manifest.segments.length, epoch });
    return await this.#fence({
      state: opened.state,
      head,
      manifest: written.manifest,
      base: opened.state,
      archives: [],
      tail: 0,
      tailBytes: 0,
    });
  }

  /**
   * Takes over from `opened` (a head this broker read): bumps the epoch with
   * If-Match, loads the state, then appends the first record of the new
   * epoch. Returns null when another broker changed the head first, or when
   * a newer epoch's record appears while catching up.
   */
  async takeOver(opened: Extract<Opened, { kind: "head" }>): Promise<LoadedState | null> {
    const head: Head = {
      epoch: opened.head.epoch + 1,
      leader: this.#identity,
      checkpoint: opened.head.checkpoint,
    };
    try {
      this.#headEtag = await this.#store.put(this.#headKey, encodeHead(head), {
        condition: { ifMatch: opened.etag },
      });
    } catch (error) {
      if (error instanceof ConflictError) return null;
      if (!(error instanceof AmbiguousWriteError)) throw error;
      const again = await this.open();
      if (
        again.kind !== "head" || again.head.epoch !== head.epoch ||
        again.head.leader?.id !== this.#identity.id
      ) return null;
    }
    this.#head = head;
    this.#appender.reset();
    return await this.#fence(await this.load({ kind: "head", head, etag: this.#headEtag }));
  }

  /**
   * Appends an empty record of the current epoch after `loaded`'s state,
   * catching up on records that appear meanwhile. Once it lands, no broker
   * of an older epoch can commit: its next record's sequence number is taken.
   */
  async #fence(loaded: LoadedState): Promise<LoadedState | null> {
    let state = loaded.state;
    const archives = [...loaded.archives];
    for (let attempt = 0; attempt < 64; attempt++) {
      const outcome = await this.append({ before: state, after: state, effects: EMPTY_EFFECTS });
      switch (outcome.kind) {
        case "landed":
          return { ...loaded, state: outcome.state, archives };
        case "conflict":
          state = outcome.state;
          archives.push(...outcome.archives);
          continue;
        case "deposed":
          return null;
        case "error":
          throw outcome.error;
      }
    }
    throw new UnavailableError("could not append the takeover record: the log kept growing");
  }

  /**
   * Creates the next log record holding `effects` (the batch that turned
   * `before` into `after`), written by this broker in the head's epoch; see
   * {@linkcode LogAppender.append} for the outcomes.
   */
  append(batch: AppendBatch): Promise<AppendOutcome> {
    return this.#appender.append(batch, this.#head.epoch);
  }

  /**
   * For a standby: re-reads the head and applies any new log records to
   * `state`. When the log was garbage-collected past `state`, reloads from the
   * head's checkpoint.
   */
  async follow(state: QueueState): Promise<{ opened: Opened; state: QueueState }> {
    const opened = await this.open();
    if (opened.kind !== "head") return { opened, state };
    const checkpoint = opened.head.checkpoint;
    if (checkpoint !== null && checkpoint.seq > state.commit) {
      const loaded = await this.load(opened);
      return { opened, state: loaded.state };
    }
    const { state: next } = await this.#replayFrom(state);
    return { opened, state: next };
  }

  /**
   * Points the head at a new checkpoint (If-Match) written in `epoch`; false
   * when the head changed (deposed) or this broker no longer leads that
   * epoch. Throws when the write failed or did not land while the head is
   * still this leader's (retry later).
   */
  async installCheckpoint(
    checkpoint: { seq: number; key: string },
    epoch: number = this.#head.epoch,
  ): Promise<boolean> {
    // Only the leader of the checkpoint's epoch installs it: a checkpoint that
    // finishes after a step-down must not write a head this broker just read
    // as a standby (it would name itself leader, with an old checkpoint).
    if (this.#head.epoch !== epoch || this.#head.leader?.id !== this.#identity.id) return false;
    const head: Head = { epoch, leader: this.#identity, checkpoint };
    try {
      this.#headEtag = await this.#store.put(this.#headKey, encodeHead(head), {
        condition: { ifMatch: this.#headEtag },
      });
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof AmbiguousWriteError)) throw error;
      const again = await this.#read();
      if (
        again.kind !== "head" || again.head.epoch !== head.epoch ||
        again.head.leader?.id !== this.#identity.id
      ) return false;
      this.#headEtag = again.etag;
      if (again.head.checkpoint?.key !== checkpoint.key) {
        // Still ours, unchanged: the write did not land (an ambiguous write
        // that was lost, or a spurious conflict). Not deposed: try again later.
        throw new UnavailableError(`the head write for checkpoint ${checkpoint.seq} did not land`, {
          cause: error,
        });
      }
    }
    this.#head = head;
    return true;
  }

  /** Writes `leader: null` (If-Match) so the next broker takes over at once; best effort. */
  async resign(): Promise<boolean> {
    const head: Head = { ...this.#head, leader: null };
    try {
      this.#headEtag = await this.#store.put(this.#headKey, encodeHead(head), {
        condition: { ifMatch: this.#headEtag },
      });
      this.#head = head;
      return true;
    } catch (error) {
      this.#log({ event: "resign-failed", error: String(error) });
      return false;
    }
  }
}
