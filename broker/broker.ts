/**
 * The broker: a single-writer actor over the queue state. Each tick drains the
 * whole mailbox, applies every operation to the in-memory state with the pure
 * {@linkcode applyBatch}, writes the new state ONCE with a compare-and-swap put,
 * and only then settles the replies (group commit). Exactly one write is ever
 * in flight; messages that arrive during a write form the next batch.
 *
 * @module
 */
import {
  AmbiguousWriteError,
  ConflictError,
  InvalidError,
  NotLeaderError,
  OsqueueError,
  ShuttingDownError,
  UnavailableError,
  ValidationError,
} from "../errors.ts";
import { Mailbox } from "../actors/mailbox.ts";
import type { ObjectStore } from "../storage/types.ts";
import {
  type ClaimOperation,
  type Job,
  type Operation,
  type OperationResult,
  operationSchema,
} from "../protocol/operations.ts";
import type { LeaderInfo, QueueBackend, RequestOptions } from "../protocol/backend.ts";
import {
  applyBatch,
  type ArchivedOperation,
  type BrokerOperation,
  type OperationReply,
} from "../core/apply.ts";
import {
  type BrokerIdentity,
  createState,
  decodeState,
  encodeState,
  nextDueAt,
  type QueueState,
  selectArchive,
  withCommit,
} from "../core/state.ts";
import { archiveKey, encodeArchive } from "../core/archive.ts";

/** A source of the current time, in epoch milliseconds. */
export interface Clock {
  /** The current time, epoch ms. */
  now(): number;
}

/** What the broker reports to its `log` option. */
export interface BrokerEvent {
  /** What happened, e.g. `commit`, `conflict`, `takeover`, `step-down`, `storage-error`. */
  event: string;
  /** Detail fields. */
  [field: string]: unknown;
}

/** Options of {@linkcode Broker}. */
export interface BrokerOptions {
  /** Where the state and archives live. */
  store: ObjectStore;
  /** Key prefix for everything this queue writes (default ``; e.g. `queues/emails/`). */
  prefix?: string;
  /** The state object's key under the prefix (default `queue.json`). */
  stateKey?: string;
  /** This broker's id and advertised URL (default: a random id, no URL). */
  identity?: BrokerIdentity;
  /** Clock (default `Date.now`). */
  clock?: Clock;
  /** Lease tokens (default `crypto.randomUUID`). */
  newToken?: () => string;
  /** Randomness for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** A lease not heartbeated for this long expires (default 30 s); also the default lease. */
  heartbeatTimeoutMs?: number;
  /** How often expired leases are looked for (default 5 s). */
  heartbeatCheckMs?: number;
  /** Minimum time between two commits, to cap the write rate (default 0). */
  minCommitIntervalMs?: number;
  /**
   * Group-commit linger: when fewer requests are queued than the last commit
   * carried, wait up to this long (and at most half the last write's duration)
   * for the rest to arrive before writing (default 2 ms; 0 turns it off).
   */
  maxLingerMs?: number;
  /** A standby takes over when the leader has not committed for this long, by its own clock (default 15 s). */
  takeoverTimeoutMs?: number;
  /** An idle leader commits at least this often to show it is alive (default takeoverTimeoutMs / 3). */
  renewIntervalMs?: number;
  /** How often a standby re-reads the state (default 1 s). */
  standbyPollMs?: number;
  /** Most requests queued in the mailbox; more get `overloaded` (default 10 000). */
  mailboxCapacity?: number;
  /** Finished jobs are archived once this many are pending (default 1000). */
  archiveMaxJobs?: number;
  /** …or once the oldest finished job is this old (default 5 s). */
  archiveMaxAgeMs?: number;
  /** Re-applies after CAS conflicts before a batch fails with `unavailable` (default 8). */
  maxConflictRetries?: number;
  /** Receives structured events (commits, conflicts, leadership changes, errors). */
  log?: (event: BrokerEvent) => void;
}

/** The broker's role. */
export type BrokerRole = "starting" | "leader" | "standby" | "stopped";

/** Counters for tests, benchmarks and `/metrics`-style reporting. */
export interface BrokerMetrics {
  /** Successful state writes. */
  commits: number;
  /** Client requests carried by those writes (housekeeping and re-applied parked claims not counted). */
  committedRequests: number;
  /** Batches answered without a write. */
  readOnlyBatches: number;
  /** CAS conflicts seen. */
  conflicts: number;
  /** Ambiguous writes resolved by re-reading. */
  ambiguousWrites: number;
  /** Archive objects written. */
  archiveWrites: number;
  /** Bytes of the last state written. */
  stateBytes: number;
}

interface Pending {
  operation: BrokerOperation;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  signal?: AbortSignal;
  /** For parked claims: when to give up and answer `{jobs: []}`. */
  deadline?: number;
}

type Loaded = { state: QueueState; etag: string } | null;

const DEFAULTS = {
  prefix: "",
  stateKey: "queue.json",
  heartbeatTimeoutMs: 30_000,
  heartbeatCheckMs: 5_000,
  minCommitIntervalMs: 0,
  maxLingerMs: 2,
  takeoverTimeoutMs: 15_000,
  standbyPollMs: 1_000,
  mailboxCapacity: 10_000,
  archiveMaxJobs: 1_000,
  archiveMaxAgeMs: 5_000,
  maxConflictRetries: 8,
} as const;

/**
 * The broker actor. `start()` loads (or creates) the state and becomes the
 * leader, or a standby when another broker leads; `request()` sends one
 * operation and resolves once the commit holding it has landed.
 *
 * @example
 * ```ts
 * import { Broker } from "./broker.ts";
 * import { MemoryStore } from "../storage/memory_store.ts";
 *
 * const broker = new Broker({ store: new MemoryStore() });
 * await broker.start();
 * const { jobs } = await broker.request({ op: "push", jobs: [{ type: "hello", payload: 1 }] });
 * await broker.stop();
 * ```
 */
export class Broker implements QueueBackend {
  readonly #store: ObjectStore;
  readonly #stateKey: string;
  readonly #archivePrefix: string;
  readonly #identity: BrokerIdentity;
  readonly #clock: Clock;
  readonly #newToken: () => string;
  readonly #random: () => number;
  readonly #heartbeatTimeoutMs: number;
  readonly #heartbeatCheckMs: number;
  readonly #minCommitIntervalMs: number;
  readonly #maxLingerMs: number;
  readonly #takeoverTimeoutMs: number;
  readonly #renewIntervalMs: number;
  readonly #standbyPollMs: number;
  readonly #archiveMaxJobs: number;
  readonly #archiveMaxAgeMs: number;
  readonly #maxConflictRetries: number;
  readonly #log: (event: BrokerEvent) => void;
  readonly #mailbox: Mailbox<Pending>;

  #role: BrokerRole = "starting";
  #state: QueueState = createState();
  #etag = "";
  #epoch = 0;
  #lastCommitAt = 0;
  #lastFailedWriteAt = 0;
  #lastBatchSize = 0;
  #lastWriteMs = 0;
  #ticksSinceYield = 0;
  #nextExpireAt = 0;
  #parked: Pending[] = [];
  #knownLeader: BrokerIdentity | null = null;
  #loop: Promise<void> | undefined;
  #stopping = new AbortController();
  #metrics: BrokerMetrics = {
    commits: 0,
    committedRequests: 0,
    readOnlyBatches: 0,
    conflicts: 0,
    ambiguousWrites: 0,
    archiveWrites: 0,
    stateBytes: 0,
  };

  /** Builds a broker; nothing happens until {@linkcode Broker.start}. */
  constructor(options: BrokerOptions) {
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (prefix !== "" && !prefix.endsWith("/")) {
      throw new InvalidError(`prefix must be empty or end with "/", got ${JSON.stringify(prefix)}`);
    }
    this.#store = options.store;
    this.#stateKey = prefix + (options.stateKey ?? DEFAULTS.stateKey);
    this.#archivePrefix = prefix + "archive/";
    this.#identity = options.identity ?? { id: `broker-${crypto.randomUUID().slice(0, 8)}` };
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#newToken = options.newToken ?? (() => crypto.randomUUID());
    this.#random = options.random ?? Math.random;
    this.#heartbeatTimeoutMs = positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs) ??
      DEFAULTS.heartbeatTimeoutMs;
    this.#heartbeatCheckMs = positive("heartbeatCheckMs", options.heartbeatCheckMs) ??
      DEFAULTS.heartbeatCheckMs;
    this.#minCommitIntervalMs = options.minCommitIntervalMs ?? DEFAULTS.minCommitIntervalMs;
    this.#maxLingerMs = options.maxLingerMs ?? DEFAULTS.maxLingerMs;
    this.#takeoverTimeoutMs = positive("takeoverTimeoutMs", options.takeoverTimeoutMs) ??
      DEFAULTS.takeoverTimeoutMs;
    this.#renewIntervalMs = positive("renewIntervalMs", options.renewIntervalMs) ??
      Math.max(1, Math.floor(this.#takeoverTimeoutMs / 3));
    this.#standbyPollMs = positive("standbyPollMs", options.standbyPollMs) ??
      DEFAULTS.standbyPollMs;
    this.#archiveMaxJobs = positive("archiveMaxJobs", options.archiveMaxJobs) ??
      DEFAULTS.archiveMaxJobs;
    this.#archiveMaxAgeMs = options.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs;
    this.#maxConflictRetries = options.maxConflictRetries ?? DEFAULTS.maxConflictRetries;
    this.#log = options.log ?? (() => {});
    this.#mailbox = new Mailbox({ capacity: options.mailboxCapacity ?? DEFAULTS.mailboxCapacity });
  }

  /** This broker's identity. */
  get identity(): BrokerIdentity {
    return this.#identity;
  }

  /** The broker's role now. */
  get role(): BrokerRole {
    return this.#role;
  }

  /** The last committed (leader) or last read (standby) state. */
  get state(): QueueState {
    return this.#state;
  }

  /** A snapshot of the broker's counters. */
  get metrics(): BrokerMetrics {
    return { ...this.#metrics };
  }

  /** Current leadership, as transports report it. */
  leaderInfo(): LeaderInfo {
    const leader = this.#role === "leader" ? this.#identity : this.#knownLeader;
    const info: LeaderInfo = { leader: this.#role === "leader", brokerId: this.#identity.id };
    if (leader?.url !== undefined) info.leaderUrl = leader.url;
    return info;
  }

  /**
   * Loads the state (creating it with If-None-Match when absent) and becomes
   * the leader — at once when the state names no leader or names this
   * broker's id, otherwise after the current leader stops committing for
   * `takeoverTimeoutMs` (until then the broker is a standby and answers
   * `not_leader`). Resolves once the broker is leader or standby.
   */
  async start(): Promise<void> {
    if (this.#loop !== undefined) return;
    const loaded = await this.#load();
    if (loaded === null) {
      await this.#create();
    } else {
      this.#adopt(loaded);
      const leader = loaded.state.leader;
      if (leader === null || leader.id === this.#identity.id) {
        await this.#takeOver(loaded);
      } else {
        this.#becomeStandby(leader, "another broker leads");
      }
    }
    this.#loop = this.#run();
  }

  /**
   * Stops: no new requests are taken, the commit in flight finishes and is
   * answered, everything else (queued requests, parked claims) is rejected with
   * `shutting_down`.
   */
  async stop(): Promise<void> {
    if (this.#role === "stopped" && this.#loop === undefined) return;
    const rest = this.#mailbox.close();
    this.#stopping.abort(new ShuttingDownError("broker is stopping"));
    const error = new ShuttingDownError("broker stopped before this request was committed");
    for (const pending of rest) pending.reject(error);
    await this.#loop;
    this.#loop = undefined;
    for (const pending of this.#parked.splice(0)) pending.reject(error);
    if (this.#role === "leader") await this.#resign();
    this.#role = "stopped";
  }

  /** Writes `leader: null` so that the next broker takes over at once; best effort. */
  async #resign(): Promise<void> {
    const next = withCommit(this.#state, { leader: null, epoch: this.#epoch });
    try {
      this.#etag = await this.#store.put(this.#stateKey, encodeState(next), {
        condition: { ifMatch: this.#etag },
      });
      this.#state = next;
      this.#log({ event: "resign", epoch: this.#epoch, commit: next.commit });
    } catch (error) {
      this.#log({ event: "resign-failed", error: String(error) });
    }
  }

  /**
   * Sends one operation. Resolves with its reply once the commit holding it has
   * landed (reads, and batches that change nothing, resolve without a write).
   * A `claim` with `waitMs` waits up to that long for a job.
   */
  request<O extends Operation>(
    operation: O,
    options: RequestOptions = {},
  ): Promise<OperationResult<O>> {
    const parsed = operationSchema.safeParse(operation);
    if (!parsed.success) {
      return Promise.reject(
        new ValidationError(`invalid ${describeOp(operation)}: ${parsed.error.message}`),
      );
    }
    if (this.#role !== "leader") return Promise.reject(this.#notLeader());
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        // zod's parse builds new objects: a caller mutating its payload later
        // cannot reach the state (queue_test.ts checks this).
        operation: parsed.data,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) return reject(signal.reason);
        pending.signal = signal;
        signal.addEventListener("abort", () => this.#abandon(pending), { once: true });
      }
      this.#mailbox.post(pending);
    });
  }

  // -------------------------------------------------------------------------
  // The run loop.

  async #run(): Promise<void> {
    const stop = this.#stopping.signal;
    while (!stop.aborted) {
      try {
        if (this.#role === "leader") await this.#leaderStep(stop);
        else await this.#standbyStep(stop);
      } catch (error) {
        if (stop.aborted) break;
        this.#log({ event: "loop-error", error: String(error) });
        await sleep(Math.min(1000, this.#standbyPollMs), stop);
      }
    }
  }

  async #leaderStep(stop: AbortSignal): Promise<void> {
    await this.#waitForWork(stop);
    if (stop.aborted && this.#mailbox.size === 0) return;
    const wait = this.#lastCommitAt + this.#minCommitIntervalMs - this.#clock.now();
    if (wait > 0) await sleep(wait, stop);
    else await this.#linger(stop);
    if (stop.aborted) return;
    const batch = this.#mailbox.drain().filter((pending) => !pending.signal?.aborted);
    await this.#tick(batch);
  }

  /**
   * Group commit: after a commit its callers answer with their next requests
   * a moment later. When fewer are queued than the last batch carried, wait a
   * little (at most `maxLingerMs`, at most half a write) so they share the next
   * write. Also yields to the event loop now and then, so that timers run
   * even when the store answers without ever waiting (MemoryStore).
   */
  async #linger(stop: AbortSignal): Promise<void> {
    const target = Math.ceil(this.#lastBatchSize * 0.75);
    const ms = Math.min(this.#maxLingerMs, this.#lastWriteMs / 2);
    if (this.#mailbox.size < target && ms >= 0.5) {
      this.#ticksSinceYield = 0;
      return await sleep(ms, stop);
    }
    if (++this.#ticksSinceYield >= 16) {
      this.#ticksSinceYield = 0;
      await sleep(0, stop);
    }
  }

  /** Resolves when a request arrives or a timer (expiry check, due job, parked deadline, renewal) is due. */
  async #waitForWork(stop: AbortSignal): Promise<void> {
    if (this.#mailbox.size > 0) return;
    const now = this.#clock.now();
    let wakeAt = Math.min(this.#nextExpireAt, this.#lastWriteAttemptAt() + this.#renewIntervalMs);
    if (this.#parked.length > 0) {
      const due = nextDueAt(this.#state, now);
      // A lease already past expiry waits for the next expiry check, not a busy loop.
      if (due !== undefined && due > now) wakeAt = Math.min(wakeAt, due);
      for (const parked of this.#parked) wakeAt = Math.min(wakeAt, parked.deadline ?? Infinity);
    }
    if (this.#hasFinishedJobs()) wakeAt = Math.min(wakeAt, now + this.#archiveMaxAgeMs);
    if (wakeAt <= now) return;
    const timer = new AbortController();
    const onStop = () => timer.abort();
    stop.addEventListener("abort", onStop, { once: true });
    try {
      await Promise.race([
        this.#mailbox.next(timer.signal).catch(() => {}),
        sleep(wakeAt - now, timer.signal),
      ]);
    } finally {
      timer.abort();
      stop.removeEventListener("abort", onStop);
    }
  }

  /**
   * One tick: apply the batch (plus due housekeeping and parked claims) to
   * the state, write it once, settle the replies. Retries on CAS conflict while
   * still the leader.
   */
  async #tick(batch: Pending[]): Promise<void> {
    const now = this.#clock.now();
    const housekeeping: BrokerOperation[] = [];
    if (now >= this.#nextExpireAt) {
      housekeeping.push({ op: "expire" });
      this.#nextExpireAt = now + this.#heartbeatCheckMs;
    }
    const archived = await this.#archiveFinished(now);
    if (archived !== undefined) housekeeping.push(archived);
    this.#expireParked(now);
    const parked = this.#parked.splice(0).filter((pending) => !pending.signal?.aborted);
    const entries = [...batch, ...parked];
    const operations = [...housekeeping, ...entries.map((pending) => pending.operation)];
    const renew = now - this.#lastWriteAttemptAt() >= this.#renewIntervalMs;

    let replies: OperationReply[] | undefined;
    let error: OsqueueError | undefined;
    try {
      ({ replies, error } = await this.#commitBatch(operations, batch.length, renew));
    } catch (thrown) {
      // A bug must not leave callers hanging: answer everyone with `internal`.
      this.#log({ event: "tick-error", error: String(thrown) });
      error = thrown instanceof OsqueueError
        ? thrown
        : new OsqueueError("internal", `broker tick failed: ${String(thrown)}`, { cause: thrown });
    }
    this.#settle(entries, housekeeping.length, replies, error);
  }

  /** The time of the last write attempt, landed or failed (renewals wait for it, no busy loop). */
  #lastWriteAttemptAt(): number {
    return Math.max(this.#lastCommitAt, this.#lastFailedWriteAt);
  }

  /**
   * Applies `operations` and writes the result once, re-applying on the fresh
   * state after a conflict while still the leader. Returns the replies, or the
   * error every request of the batch gets.
   */
  async #commitBatch(
    operations: BrokerOperation[],
    requests: number,
    renew: boolean,
  ): Promise<{ replies?: OperationReply[]; error?: OsqueueError }> {
    for (let attempt = 0;; attempt++) {
      const context = {
        now: this.#clock.now(),
        defaultLeaseMs: this.#heartbeatTimeoutMs,
        newToken: this.#newToken,
        random: this.#random,
      };
      const result = applyBatch(this.#state, operations, context);
      if (!result.changed && !renew) {
        this.#metrics.readOnlyBatches++;
        return { replies: result.replies };
      }
      const next = withCommit(result.state, { leader: this.#identity, epoch: this.#epoch });
      const outcome = await this.#write(next);
      if (outcome === "landed") {
        this.#metrics.committedRequests += requests;
        this.#lastBatchSize = requests;
        return { replies: result.replies };
      }
      if (outcome === "deposed") return { error: this.#notLeader() };
      if (outcome instanceof OsqueueError) {
        this.#lastFailedWriteAt = this.#clock.now();
        return { error: outcome };
      }
      // outcome === "retry": the state was re-read and we still lead.
      if (attempt >= this.#maxConflictRetries) {
        this.#lastFailedWriteAt = this.#clock.now();
        return {
          error: new UnavailableError(
            `gave up after ${
              attempt + 1
            } conflicting writes; is another process writing the state?`,
          ),
        };
      }
    }
  }

  /** Settles each request with its reply (or the batch's error); parks empty long-poll claims. */
  #settle(
    entries: Pending[],
    offset: number,
    replies: OperationReply[] | undefined,
    error: OsqueueError | undefined,
  ): void {
    const now = this.#clock.now();
    entries.forEach((pending, index) => {
      if (replies === undefined) {
        // A parked claim survives a failed batch unless the broker lost leadership.
        if (pending.deadline !== undefined && this.#role === "leader") this.#parked.push(pending);
        else pending.reject(error);
        return;
      }
      const reply = replies[offset + index];
      if (!reply.ok) return pending.reject(reply.error);
      const operation = pending.operation;
      if (
        operation.op === "claim" &&
        (reply.value as OperationResult<ClaimOperation>).jobs.length === 0
      ) {
        const waitMs = operation.waitMs ?? 0;
        if (pending.deadline === undefined && waitMs > 0) pending.deadline = now + waitMs;
        if (pending.deadline !== undefined && pending.deadline > now && this.#role === "leader") {
          this.#parked.push(pending);
          return;
        }
      }
      pending.resolve(reply.value);
    });
  }

  /** Answers parked claims whose wait is over with an empty result. */
  #expireParked(now: number): void {
    this.#parked = this.#parked.filter((pending) => {
      if ((pending.deadline ?? 0) > now) return true;
      pending.resolve({ jobs: [] });
      return false;
    });
  }

  /** A caller gave up (its signal aborted): drop its request if it is still queued or parked. */
  #abandon(pending: Pending): void {
    const parkedAt = this.#parked.indexOf(pending);
    if (parkedAt >= 0) this.#parked.splice(parkedAt, 1);
    else if (!this.#mailbox.remove(pending)) return; // already in a batch: it completes
    pending.reject(pending.signal?.reason);
  }

  // -------------------------------------------------------------------------
  // Storage.

  /** Writes `next` with If-Match; classifies the outcome. */
  async #write(next: QueueState): Promise<"landed" | "retry" | "deposed" | OsqueueError> {
    const body = encodeState(next);
    const started = performance.now();
    try {
      this.#etag = await this.#store.put(this.#stateKey, body, {
        condition: { ifMatch: this.#etag },
      });
      this.#lastWriteMs = performance.now() - started;
      this.#committed(next, body.length);
      return "landed";
    } catch (error) {
      if (error instanceof ConflictError) {
        this.#metrics.conflicts++;
        this.#log({ event: "conflict", commit: next.commit });
        return await this.#reloadAfter(next, false);
      }
      if (error instanceof AmbiguousWriteError) {
        this.#metrics.ambiguousWrites++;
        this.#log({ event: "ambiguous-write", commit: next.commit, error: error.message });
        return await this.#reloadAfter(next, true);
      }
      this.#log({ event: "storage-error", error: String(error) });
      return error instanceof OsqueueError
        ? error
        : new UnavailableError(`state write failed: ${String(error)}`, { cause: error });
    }
  }

  /**
   * After a conflict or an ambiguous write: re-read. If our own write is what
   * is there (same epoch, leader and commit), it landed. If another broker
   * leads now, step down. Otherwise re-apply on the fresh state.
   */
  async #reloadAfter(
    attempted: QueueState,
    ambiguous: boolean,
  ): Promise<"landed" | "retry" | "deposed" | OsqueueError> {
    let loaded: Loaded;
    try {
      loaded = await this.#load();
    } catch (error) {
      return error instanceof OsqueueError
        ? error
        : new UnavailableError(`state re-read failed: ${String(error)}`);
    }
    if (loaded === null) {
      this.#becomeStandby(null, "the state object disappeared");
      return "deposed";
    }
    const found = loaded.state;
    const ours = found.epoch === this.#epoch && found.leader?.id === this.#identity.id;
    if (!ours) {
      this.#adopt(loaded);
      this.#becomeStandby(found.leader, `epoch ${found.epoch} belongs to ${found.leader?.id}`);
      return "deposed";
    }
    if (ambiguous && found.commit === attempted.commit) {
      // Our write landed; what is stored is exactly `attempted`.
      this.#etag = loaded.etag;
      this.#committed(attempted, 0);
      return "landed";
    }
    this.#adopt(loaded);
    return "retry";
  }

  #committed(state: QueueState, bytes: number): void {
    this.#state = state;
    this.#lastCommitAt = this.#clock.now();
    this.#metrics.commits++;
    if (bytes > 0) this.#metrics.stateBytes = bytes;
  }

  async #load(): Promise<Loaded> {
    const found = await this.#store.get(this.#stateKey);
    if (found === null) return null;
    return { state: decodeState(found.body), etag: found.etag };
  }

  #adopt(loaded: NonNullable<Loaded>): void {
    this.#state = loaded.state;
    this.#etag = loaded.etag;
    this.#knownLeader = loaded.state.leader;
  }

  /** Creates the state with If-None-Match; if someone else just did, starts over from their state. */
  async #create(): Promise<void> {
    const initial = withCommit(createState(), { leader: this.#identity, epoch: 1 });
    const body = encodeState(initial);
    try {
      this.#etag = await this.#store.put(this.#stateKey, body, {
        condition: { ifNoneMatch: "*" },
      });
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof AmbiguousWriteError)) throw error;
      const loaded = await this.#load();
      if (loaded === null) throw error;
      this.#adopt(loaded);
      if (loaded.state.leader?.id === this.#identity.id) return this.#takeOver(loaded);
      return this.#becomeStandby(loaded.state.leader, "another broker created the state");
    }
    this.#epoch = 1;
    this.#becomeLeader(initial, body.length);
  }

  /** Bumps the epoch with a CAS write; on conflict stays (or becomes) a standby. */
  async #takeOver(loaded: NonNullable<Loaded>): Promise<void> {
    const epoch = loaded.state.epoch + 1;
    const next = withCommit(loaded.state, { leader: this.#identity, epoch });
    const body = encodeState(next);
    try {
      this.#etag = await this.#store.put(this.#stateKey, body, {
        condition: { ifMatch: loaded.etag },
      });
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof AmbiguousWriteError)) throw error;
      const fresh = await this.#load();
      if (fresh === null) return this.#becomeStandby(null, "the state object disappeared");
      if (fresh.state.epoch === epoch && fresh.state.leader?.id === this.#identity.id) {
        this.#epoch = epoch;
        this.#etag = fresh.etag;
        return this.#becomeLeader(fresh.state, body.length);
      }
      this.#adopt(fresh);
      return this.#becomeStandby(fresh.state.leader, "lost the takeover race");
    }
    this.#epoch = epoch;
    this.#becomeLeader(next, body.length);
    this.#log({ event: "takeover", epoch, previous: loaded.state.leader?.id ?? null });
  }

  #becomeLeader(state: QueueState, bytes: number): void {
    this.#committed(state, bytes);
    this.#role = "leader";
    this.#knownLeader = this.#identity;
    this.#nextExpireAt = this.#clock.now();
    this.#log({ event: "leader", epoch: this.#epoch, commit: state.commit });
  }

  #becomeStandby(leader: BrokerIdentity | null, reason: string): void {
    const wasLeader = this.#role === "leader";
    this.#role = "standby";
    this.#knownLeader = leader;
    this.#log({ event: wasLeader ? "step-down" : "standby", reason, leader: leader?.id ?? null });
    if (wasLeader) {
      const error = this.#notLeader();
      for (const pending of this.#parked.splice(0)) pending.reject(error);
      for (const pending of this.#mailbox.drain()) pending.reject(error);
    }
  }

  /** A standby watches the commit counter by its own clock and takes over when it stalls. */
  async #standbyStep(stop: AbortSignal): Promise<void> {
    for (const pending of this.#mailbox.drain()) pending.reject(this.#notLeader());
    let seen = { epoch: this.#state.epoch, commit: this.#state.commit };
    let since = this.#clock.now();
    while (!stop.aborted && this.#role === "standby") {
      await Promise.race([sleep(this.#standbyPollMs, stop), this.#mailbox.next(stop)]).catch(
        () => {},
      );
      for (const pending of this.#mailbox.drain()) pending.reject(this.#notLeader());
      if (stop.aborted) return;
      const loaded = await this.#load().catch((error) => {
        this.#log({ event: "standby-read-error", error: String(error) });
        return undefined;
      });
      if (loaded === undefined) continue;
      if (loaded === null) return await this.#create();
      this.#adopt(loaded);
      const now = this.#clock.now();
      const { epoch, commit } = loaded.state;
      if (epoch !== seen.epoch || commit !== seen.commit) {
        seen = { epoch, commit };
        since = now;
      } else if (loaded.state.leader === null || now - since >= this.#takeoverTimeoutMs) {
        await this.#takeOver(loaded);
        since = this.#clock.now();
      }
    }
  }

  // -------------------------------------------------------------------------
  // Archive.

  #hasFinishedJobs(): boolean {
    return selectArchive(this.#state, { now: Infinity, maxJobs: 1, maxAgeMs: 0 }).length > 0;
  }

  /**
   * Writes finished jobs to a time-bucketed archive object BEFORE the commit
   * that removes them, so a crash can duplicate an archive record but never
   * lose one. Returns the operation that drops them, or undefined.
   */
  async #archiveFinished(now: number): Promise<ArchivedOperation | undefined> {
    const jobs: Job[] = selectArchive(this.#state, {
      now,
      maxJobs: this.#archiveMaxJobs,
      maxAgeMs: this.#archiveMaxAgeMs,
    });
    if (jobs.length === 0) return undefined;
    const key = archiveKey({
      prefix: this.#archivePrefix,
      time: now,
      epoch: this.#epoch,
      commit: this.#state.commit + 1,
    });
    try {
      await this.#store.put(key, encodeArchive(jobs));
    } catch (error) {
      this.#log({ event: "archive-error", key, error: String(error) });
      return undefined;
    }
    this.#metrics.archiveWrites++;
    return { op: "archived", ids: jobs.map((job) => job.id) };
  }

  #notLeader(): OsqueueError {
    if (this.#role === "stopped" || this.#stopping.signal.aborted) {
      return new ShuttingDownError("broker is stopped");
    }
    const leader = this.#knownLeader;
    const data: Record<string, unknown> = {};
    if (leader?.id !== undefined) data.leaderId = leader.id;
    if (leader?.url !== undefined) data.leaderUrl = leader.url;
    return new NotLeaderError(
      leader ? `not the leader; broker ${leader.id} leads` : "not the leader; no leader is known",
      { data },
    );
  }
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidError(`${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}

function describeOp(operation: unknown): string {
  const op = (operation as { op?: unknown } | null)?.op;
  return typeof op === "string" ? `${op} operation` : "operation";
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}
