/**
 * The simulated object store: one shared {@linkcode MemoryStore} (the
 * "server"), reached by each broker incarnation through its own
 * {@linkcode SimStore} (its "network" to the store), which injects latency,
 * slow calls, transient errors, spurious CAS conflicts, and ambiguous writes
 * that did or did not land — sometimes landing only after the error was
 * reported. A call is sent as the broker's node (a frozen broker sends
 * nothing until it thaws; a crashed one never), reaches the store after a
 * delay (as the store: freezing the sender no longer stops it), and its
 * answer travels back as the broker's node (held while frozen, dropped once
 * crashed, so the broker stops at that await for ever).
 *
 * Every log record that lands is recorded, so invariants can be checked
 * against the log as written, independently of the broker's own replay.
 *
 * @module
 */
import { AmbiguousWriteError, ConflictError, UnavailableError } from "../../errors.ts";
import { MemoryStore } from "../../storage/memory_store.ts";
import type { ObjectStore, PutOptions, StoredObject } from "../../storage/types.ts";
import { decodeLogRecord, logSeqOf } from "../../broker/log_record.ts";
import type { BatchEffects } from "../../core/effects.ts";
import { type Rng, type Scheduler, SimNode } from "./scheduler.ts";

/** Fault rates of one broker's store link (probabilities per call). */
export interface StoreFaults {
  /** A call fails with `unavailable` without reaching the store. */
  unavailable: number;
  /**
   * An If-Match put fails with a spurious `conflict` without writing. (Not
   * If-None-Match: there a conflict promises the object exists, and the
   * archiver relies on that, as the store contract allows.)
   */
  conflict: number;
  /** A put is reported ambiguous (it lands or not; sometimes it lands after the report). */
  ambiguous: number;
  /** A call is slow (hundreds of ms to seconds). */
  slow: number;
}

/** No faults. */
export const NO_FAULTS: StoreFaults = { unavailable: 0, conflict: 0, ambiguous: 0, slow: 0 };

/** A log record as it landed in the store. */
export interface LandedRecord {
  /** Sequence number. */
  seq: number;
  /** Writer's epoch. */
  epoch: number;
  /** Writer's broker id. */
  writer: string;
  /** The broker incarnation (node name) whose call wrote it. */
  node: string;
  /** The record's nonce. */
  nonce: string;
  /** Its effects. */
  effects: BatchEffects;
  /** Job ids the record archives. */
  archived: string[];
  /** Virtual time it landed. */
  landedAt: number;
  /** Whether an earlier record with this sequence number had been deleted (garbage-collected). */
  recreated: boolean;
  /**
   * Whether the writer will be told it landed: its incarnation still runs and
   * the put is not one already answered as ambiguous.
   */
  writerAlive: boolean;
}

/** Counters of injected faults. */
export interface FaultCounts {
  /** Calls failed with `unavailable`. */
  unavailable: number;
  /** Spurious conflicts. */
  conflict: number;
  /** Ambiguous puts that landed. */
  ambiguousLanded: number;
  /** Ambiguous puts that did not land. */
  ambiguousLost: number;
  /** Ambiguous puts that landed after the error was reported. */
  lateLandings: number;
  /** Slow calls. */
  slow: number;
  /** Calls that never returned (their broker crashed). */
  orphaned: number;
}

/** The shared store and what was written to it. */
export class StoreWorld {
  /** The store's contents. */
  readonly inner: MemoryStore = new MemoryStore();
  /** The node that runs the store side of calls (never crashes). */
  readonly node: SimNode = new SimNode("store");
  /** Log records in the order they landed. */
  readonly records: LandedRecord[] = [];
  /** Fault counters. */
  readonly faults: FaultCounts = {
    unavailable: 0,
    conflict: 0,
    ambiguousLanded: 0,
    ambiguousLost: 0,
    lateLandings: 0,
    slow: 0,
    orphaned: 0,
  };
  /** Called with each log record as it lands (continuous invariants). */
  onRecord: (record: LandedRecord) => void = () => {};
  readonly #everWritten = new Set<string>();
  readonly #scheduler: Scheduler;
  readonly #trace: (node: string, text: string) => void;

  /** A store on `scheduler`, tracing to `trace`. */
  constructor(scheduler: Scheduler, trace: (node: string, text: string) => void) {
    this.#scheduler = scheduler;
    this.#trace = trace;
  }

  /** A put as it reaches the store, recording landed log records. */
  async put(
    node: SimNode,
    key: string,
    body: Uint8Array,
    options?: PutOptions,
    detached = false,
  ): Promise<string> {
    const etag = await this.inner.put(key, body, options);
    const seq = logSeqOf("", key);
    if (seq !== undefined) {
      const record = decodeLogRecord(body, key);
      const recreated = this.#everWritten.has(key);
      const landed: LandedRecord = {
        seq,
        epoch: record.epoch,
        writer: record.writer.id,
        node: node.name,
        nonce: record.nonce,
        effects: record.effects,
        archived: record.archive?.ids ?? [],
        landedAt: this.#scheduler.now,
        recreated,
        writerAlive: !node.crashed && !detached,
      };
      this.records.push(landed);
      this.onRecord(landed);
      if (recreated) this.#trace(node.name, `log record ${seq} landed AGAIN after being deleted`);
    }
    this.#everWritten.add(key);
    return etag;
  }
}

/** One broker incarnation's link to the shared store. */
export class SimStore implements ObjectStore {
  readonly description: string;
  readonly #world: StoreWorld;
  readonly #node: SimNode;
  readonly #scheduler: Scheduler;
  readonly #rng: Rng;
  readonly #faults: () => StoreFaults;
  readonly #trace: (text: string) => void;

  /** The link of `node`, with faults drawn from `rng` at the rates `faults()` gives now. */
  constructor(options: {
    world: StoreWorld;
    node: SimNode;
    scheduler: Scheduler;
    rng: Rng;
    faults: () => StoreFaults;
    trace: (node: string, text: string) => void;
  }) {
    this.#world = options.world;
    this.#node = options.node;
    this.#scheduler = options.scheduler;
    this.#rng = options.rng;
    this.#faults = options.faults;
    const trace = options.trace;
    this.#trace = (text) => trace(options.node.name, text);
    this.description = `sim(${options.node.name})`;
  }

  /** Reads through the link. */
  get(key: string): Promise<StoredObject | null> {
    return this.#call("get", key, () => this.#world.inner.get(key));
  }

  /** Writes through the link. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<string> {
    return this.#call(
      "put",
      key,
      (detached) => this.#world.put(this.#node, key, body, options, detached),
      options?.condition !== undefined && "ifMatch" in options.condition,
    );
  }

  /** Deletes through the link. */
  delete(key: string): Promise<void> {
    return this.#call("delete", key, () => this.#world.inner.delete(key));
  }

  /** Lists through the link. */
  list(prefix: string): Promise<string[]> {
    return this.#call("list", prefix, () => this.#world.inner.list(prefix));
  }

  #latency(): number {
    const rng = this.#rng;
    const faults = this.#faults();
    if (rng.chance(faults.slow)) {
      this.#world.faults.slow++;
      return rng.chance(0.1) ? rng.int(3000, 10_000) : rng.int(100, 2000);
    }
    return rng.int(1, 15);
  }

  #call<T>(
    op: "get" | "put" | "delete" | "list",
    key: string,
    perform: (detached: boolean) => Promise<T>,
    ifMatch = false,
  ): Promise<T> {
    const node = this.#node;
    const scheduler = this.#scheduler;
    const world = this.#world;
    if (node.crashed) {
      world.faults.orphaned++;
      return new Promise<T>(() => {});
    }
    return new Promise<T>((resolve, reject) => {
      const reply = (ms: number, settle: () => void) => scheduler.after(ms, settle, node);
      // Sending happens as the broker: a freeze right now holds the request back.
      scheduler.after(0, () => {
        const rng = this.#rng;
        const faults = this.#faults();
        const there = this.#latency();
        const back = this.#latency();
        if (rng.chance(faults.unavailable)) {
          world.faults.unavailable++;
          this.#trace(`fault: ${op} ${short(key)} unavailable`);
          reply(there + back, () => reject(new UnavailableError(`sim: ${op} ${key} unavailable`)));
          return;
        }
        if (op === "put" && ifMatch && rng.chance(faults.conflict)) {
          world.faults.conflict++;
          this.#trace(`fault: put ${short(key)} spurious conflict`);
          reply(there + back, () => reject(new ConflictError(`sim: spurious conflict on ${key}`)));
          return;
        }
        if (op === "put" && rng.chance(faults.ambiguous)) {
          const lands = rng.chance(0.5);
          const late = lands && rng.chance(0.3);
          const arrival = late ? there + back + rng.int(1, 3000) : there;
          if (lands) {
            if (late) world.faults.lateLandings++;
            scheduler.after(arrival, () => {
              perform(true).then(
                () => {
                  world.faults.ambiguousLanded++;
                  this.#trace(`ambiguous put ${short(key)} landed${late ? " (late)" : ""}`);
                },
                (error) => {
                  world.faults.ambiguousLost++;
                  this.#trace(`ambiguous put ${short(key)} did not land: ${error.code ?? error}`);
                },
              );
            }, world.node);
          } else {
            world.faults.ambiguousLost++;
          }
          this.#trace(`fault: put ${short(key)} ambiguous (${lands ? "will land" : "lost"})`);
          reply(
            there + back,
            () => reject(new AmbiguousWriteError(`sim: put ${key} outcome unknown`)),
          );
          return;
        }
        // The call reaches the store (as the store: the sender's freeze no longer matters).
        scheduler.after(there, () => {
          perform(false).then(
            (value) => reply(back, () => resolve(value)),
            (error) => reply(back, () => reject(error)),
          );
        }, world.node);
      }, node);
    });
  }
}

function short(key: string): string {
  return key.replace(/^.*?(log|segments|checkpoints|archive)\//, "$1/").replace(/0{4,}/, "");
}
