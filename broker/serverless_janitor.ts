/**
 * Checkpoints and garbage collection when several serverless instances write
 * the same log (see `serverless.ts`). Safety does not depend on there being one
 * janitor; the lease only keeps the others from doing the same work twice.
 *
 * - **Lease.** `janitor.json` under the prefix names the instance that writes
 *   checkpoints and its expiry by the holder's clock; it changes only by CAS.
 *   An instance takes it when absent or expired, and renews it before each
 *   checkpoint. Two holders at once (a paused holder, clock skew) are harmless:
 * - **Checkpoints** go to keys tagged with a random number per instance (the
 *   `epoch` part of segment and manifest keys), so two writers never write the
 *   same key. One is installed by a CAS on the head (If-Match of the head just
 *   read) and only when its sequence number is above the head's checkpoint:
 *   installed checkpoints form one chain, and a checkpoint that lost its CAS
 *   is unreferenced garbage.
 * - **GC with a grace period.** After checkpoint `G` has been installed for
 *   `graceMs` (by the janitor's clock), the objects only older checkpoints
 *   name and the log records up to `G.seq` are deleted (listing the folders,
 *   so garbage of other janitors and lost CASes goes too). A reader that read
 *   an older head has had `graceMs` to finish; and since every instance syncs
 *   with the log (or lands a record) at least every `graceMs / 2` before it
 *   writes, no instance can re-create a collected log record: its state is at
 *   least at `G.seq` by then. This assumes clocks agree within `graceMs / 2`
 *   and no instance freezes for longer between its sync and its write.
 *
 * @module
 */
import { AmbiguousWriteError, ConflictError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { QueueState } from "../core/state.ts";
import type { BrokerIdentity } from "../core/state.ts";
import {
  type ArchiveRef,
  checkpointSeqOfKey,
  decodeHead,
  encodeHead,
  type Manifest,
} from "./head.ts";
import { logSeqOf } from "./log_record.ts";
import { parallel, writeCheckpoint } from "./checkpoint.ts";
import type { LoadedState } from "./state_store.ts";

/** Options of {@linkcode ServerlessJanitor}. */
export interface ServerlessJanitorOptions {
  /** Where everything lives. */
  store: ObjectStore;
  /** The queue's key prefix. */
  prefix: string;
  /** The head's full key. */
  headKey: string;
  /** This instance. */
  identity: BrokerIdentity;
  /** The current time, epoch ms. */
  now: () => number;
  /** How long a janitor lease lasts (default 30 s). */
  leaseMs?: number;
  /** How long a superseded checkpoint and its log stay readable (default 60 s). */
  graceMs?: number;
  /** Fewest log records between checkpoints (default 32). */
  minRecords?: number;
  /** Least time between checkpoint attempts (default 1 s). */
  minIntervalMs?: number;
  /** The archive index to record in the manifest. */
  archives: () => ArchiveRef[];
  /** Resolves once every archive object the replayed records asked for is written. */
  flushArchives: () => Promise<void>;
  /** A number unique to this instance, for the keys it writes (default random). */
  keyTag?: number;
  /** Receives structured events. */
  log?: (event: { event: string; [field: string]: unknown }) => void;
}

interface Generation {
  seq: number;
  key: string;
  manifest: Manifest | null;
  installedAt: number;
}

/** The lease object's content. */
interface Lease {
  holder: string;
  expiresAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Counters of janitor work. */
export interface JanitorMetrics {
  /** Checkpoints this instance installed. */
  checkpoints: number;
  /** Bytes of segments and manifests written. */
  bytes: number;
  /** Objects deleted. */
  deleted: number;
  /** Checkpoints written but not installed (another instance changed the head first). */
  lost: number;
}

/** Writes checkpoints and collects garbage for a serverless instance while it holds the lease. */
export class ServerlessJanitor {
  readonly #o: ServerlessJanitorOptions;
  readonly #leaseKey: string;
  readonly #leaseMs: number;
  readonly #graceMs: number;
  readonly #minRecords: number;
  readonly #minIntervalMs: number;
  readonly #keyTag: number;
  readonly #log: (event: { event: string; [field: string]: unknown }) => void;
  #gens: Generation[] = [];
  #base: QueueState | undefined;
  #lastSeq = 0;
  #lastAt = 0;
  #leaseEtag: string | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #metrics: JanitorMetrics = { checkpoints: 0, bytes: 0, deleted: 0, lost: 0 };

  /** Builds a janitor; call {@linkcode ServerlessJanitor.reset} after loading. */
  constructor(options: ServerlessJanitorOptions) {
    this.#o = options;
    this.#leaseKey = `${options.prefix}janitor.json`;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#graceMs = options.graceMs ?? 60_000;
    this.#minRecords = options.minRecords ?? 32;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#keyTag = options.keyTag ?? Math.floor(Math.random() * 99_999_999) + 1;
    this.#log = options.log ?? (() => {});
  }

  /** A snapshot of the counters. */
  get metrics(): JanitorMetrics {
    return { ...this.#metrics };
  }

  /** Starts over from a (re)load: the head's checkpoint is the newest generation known. */
  reset(loaded: LoadedState): void {
    const checkpoint = loaded.head.checkpoint;
    this.#gens = checkpoint === null ? [] : [{
      seq: checkpoint.seq,
      key: checkpoint.key,
      manifest: loaded.manifest,
      installedAt: this.#o.now(),
    }];
    this.#base = loaded.base;
    this.#lastSeq = checkpoint?.seq ?? 0;
  }

  /** Notes the instance's state after a commit or a sync; starts a checkpoint when one is due. */
  noteState(state: QueueState): void {
    if (this.#running !== undefined || this.#stopped) return;
    if (state.commit - this.#lastSeq < this.#minRecords) return;
    if (this.#o.now() - this.#lastAt < this.#minIntervalMs) return;
    this.#lastAt = this.#o.now();
    this.#running = this.#run(state).finally(() => this.#running = undefined);
  }

  /** Waits for the work in progress, takes no more, and gives the lease up (best effort). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    if (this.#leaseEtag === undefined) return;
    const body = encoder.encode(JSON.stringify({ holder: this.#o.identity.id, expiresAt: 0 }));
    await this.#o.store.put(this.#leaseKey, body, { condition: { ifMatch: this.#leaseEtag } })
      .catch(() => {});
    this.#leaseEtag = undefined;
  }

  async #run(state: QueueState): Promise<void> {
    try {
      if (!await this.#holdLease()) return;
      await this.#o.flushArchives();
      await this.#checkpoint(state);
    } catch (error) {
      this.#log({ event: "janitor-error", seq: state.commit, error: String(error) });
    }
  }

  /** Takes or renews the lease; false when another instance holds it. */
  async #holdLease(): Promise<boolean> {
    const { store, identity } = this.#o;
    const now = this.#o.now();
    const found = await store.get(this.#leaseKey);
    if (found !== null) {
      let lease: Lease | undefined;
      try {
        lease = JSON.parse(decoder.decode(found.body)) as Lease;
      } catch {
        lease = undefined;
      }
      if (lease !== undefined && lease.holder !== identity.id && lease.expiresAt > now) {
        this.#leaseEtag = undefined;
        return false;
      }
    }
    const body = encoder.encode(
      JSON.stringify({ holder: identity.id, expiresAt: now + this.#leaseMs }),
    );
    try {
      this.#leaseEtag = await store.put(this.#leaseKey, body, {
        condition: found === null ? { ifNoneMatch: "*" } : { ifMatch: found.etag },
      });
      return true;
    } catch (error) {
      if (error instanceof ConflictError || error instanceof AmbiguousWriteError) return false;
      throw error;
    }
  }

  async #checkpoint(state: QueueState): Promise<void> {
    const { store, prefix, headKey } = this.#o;
    const found = await store.get(headKey);
    if (found === null) return;
    const content = decodeHead(found.body);
    if (content.kind !== "head") return;
    const head = content.head;
    const installed = head.checkpoint;
    if (installed !== null && installed.seq >= state.commit) {
      this.#adopt(installed);
      return;
    }
    const newest = this.#gens.at(-1);
    const previous = newest !== undefined && newest.key === installed?.key &&
        newest.manifest !== null && this.#base !== undefined
      ? { state: this.#base, manifest: newest.manifest }
      : null;
    const written = await writeCheckpoint({
      store,
      prefix,
      state,
      epoch: this.#keyTag,
      previous,
      archives: this.#o.archives(),
    });
    this.#metrics.bytes += written.bytes;
    const checkpoint = { seq: state.commit, key: written.key };
    try {
      await store.put(headKey, encodeHead({ ...head, checkpoint }), {
        condition: { ifMatch: found.etag },
      });
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof AmbiguousWriteError)) throw error;
      const again = await store.get(headKey);
      const now = again === null ? undefined : decodeHead(again.body);
      if (now?.kind !== "head" || now.head.checkpoint?.key !== written.key) {
        this.#metrics.lost++;
        this.#log({ event: "checkpoint-lost", seq: state.commit });
        if (now?.kind === "head" && now.head.checkpoint !== null) this.#adopt(now.head.checkpoint);
        return;
      }
    }
    this.#metrics.checkpoints++;
    this.#gens.push({
      seq: state.commit,
      key: written.key,
      manifest: written.manifest,
      installedAt: this.#o.now(),
    });
    this.#base = state;
    this.#lastSeq = state.commit;
    this.#log({
      event: "checkpoint",
      seq: state.commit,
      bytes: written.bytes,
      segmentsWritten: written.segmentsWritten,
    });
    await this.#collect();
  }

  /** Another instance installed `checkpoint`: remember it (its manifest unknown: no segment reuse). */
  #adopt(checkpoint: { seq: number; key: string }): void {
    this.#lastSeq = Math.max(this.#lastSeq, checkpoint.seq);
    if (this.#gens.some((gen) => gen.key === checkpoint.key)) return;
    this.#gens.push({ ...checkpoint, manifest: null, installedAt: this.#o.now() });
  }

  /** Deletes what only checkpoints superseded more than `graceMs` ago name. */
  async #collect(): Promise<void> {
    const now = this.#o.now();
    let floor = -1;
    for (let i = this.#gens.length - 1; i >= 0; i--) {
      if (this.#gens[i].installedAt + this.#graceMs <= now) {
        floor = i;
        break;
      }
    }
    if (floor < 0) return;
    const kept = this.#gens.slice(floor);
    // A generation adopted without its manifest cannot tell what it names: keep everything.
    if (kept.some((gen) => gen.manifest === null)) return;
    this.#gens = kept;
    const floorSeq = kept[0].seq;
    const keep = new Set<string>();
    for (const gen of kept) {
      keep.add(gen.key);
      for (const entry of gen.manifest!.segments) keep.add(entry.key);
    }
    const { store, prefix } = this.#o;
    const doomed: string[] = [];
    for (const folder of ["segments/", "checkpoints/"]) {
      for (const key of await store.list(prefix + folder)) {
        const seq = checkpointSeqOfKey(key);
        if (seq !== undefined && seq < floorSeq && !keep.has(key)) doomed.push(key);
      }
    }
    for (const key of await store.list(prefix + "log/")) {
      const seq = logSeqOf(prefix, key);
      if (seq !== undefined && seq <= floorSeq) doomed.push(key);
    }
    await parallel(doomed, async (key) => {
      try {
        await store.delete(key);
        this.#metrics.deleted++;
      } catch (error) {
        this.#log({ event: "gc-error", key, error: String(error) });
      }
    });
    if (doomed.length > 0) this.#log({ event: "gc", deleted: doomed.length, floor: floorSeq });
  }
}
