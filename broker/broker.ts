/**
 * The broker: a single-writer actor over the queue state. Each tick drains the
 * whole mailbox, applies every operation to the in-memory state with the pure
 * {@linkcode applyBatch}, appends ONE log record holding the batch's effects
 * (see `state_store.ts`), and only then settles the replies (group commit).
 * Exactly one log write is ever in flight; messages that arrive during a
 * write form the next batch. Checkpoints and archive writes run beside it
 * (`checkpointer.ts`, `archiver.ts`); leadership decisions are pure
 * (`leadership.ts`).
 *
 * @module
 */
import {
  NotLeaderError,
  type OsqueueError,
  ShuttingDownError,
  UnavailableError,
} from "../errors.ts";
import { Mailbox } from "../actors/mailbox.ts";
import type { Clock } from "../clock.ts";
import type { Operation, OperationResult } from "../protocol/operations.ts";
import type { JobEvent, LeaderInfo, QueueBackend, RequestOptions } from "../protocol/backend.ts";
import { jobEvents } from "../core/job_events.ts";
import type { BrokerOperation, JobChange, OperationReply } from "../core/apply.ts";
import { commitOnce } from "./commit_batch.ts";
import { type BrokerIdentity, createState, nextDueAt, type QueueState } from "../core/state.ts";
import { nextScheduleAt } from "../core/schedules.ts";
import { type ArchiveWrite, type LoadedState, type Opened, StateStore } from "./state_store.ts";
import { Checkpointer } from "./checkpointer.ts";
import { Archiver } from "./archiver.ts";
import { leadsNow } from "./leadership.ts";
import { followLeader } from "./standby.ts";
import { enqueue, housekeeping as housekeeping_, tickError, trustedOperation } from "./intake.ts";
import { joinQueue } from "./startup.ts";
import { lingerFor, waitForMessageOr } from "./pacing.ts";
import { ParkedClaims, type Pending } from "./parked_claims.ts";
import { settleBatch, type SettleContext, settleParked } from "./replies.ts";
import {
  type BrokerEvent,
  type BrokerMetrics,
  type BrokerOptions,
  type BrokerRole,
  type ResolvedBrokerOptions,
  resolveOptions,
} from "./options.ts";
import { abortable, sleep, withDeadline } from "./timing.ts";

export type {
  BrokerClock,
  BrokerEvent,
  BrokerMetrics,
  BrokerOptions,
  BrokerRole,
} from "./options.ts";

/**
 * The broker actor. `start()` loads (or creates) the state and becomes the
 * leader, or a standby when another broker leads; `request()` sends one
 * operation and resolves once the log record holding it has landed.
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
  readonly #o: ResolvedBrokerOptions;
  readonly #identity: BrokerIdentity;
  readonly #clock: Clock;
  readonly #log: (event: BrokerEvent) => void;
  readonly #mailbox: Mailbox<Pending>;
  readonly #stateStore: StateStore;
  readonly #checkpointer: Checkpointer;
  readonly #archiver: Archiver;
  readonly #parked: ParkedClaims;
  readonly #replies: SettleContext;
  readonly #watchers = new Set<(events: JobEvent[]) => void>();

  #role: BrokerRole = "starting";
  #state: QueueState = createState();
  #started: Promise<void> | undefined;
  #lastLandedAt = 0;
  #lastFailedWriteAt = 0;
  /** Requests the last commit carried plus those queued while it was written. */
  #demand = 0;
  #lastWriteMs = 0;
  #ticksSinceYield = 0;
  /** Set when the head changed under the leader: the next tick writes, to find out. */
  #checkHead = false;
  #nextExpireAt = 0;
  #knownLeader: BrokerIdentity | null = null;
  /** Archive objects asked for by records read in a conflict, until a record of ours lands on them. */
  #unconfirmedArchives: ArchiveWrite[] = [];
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
    logBytes: 0,
    checkpoints: 0,
    checkpointBytes: 0,
    archiveBytes: 0,
    gcDeleted: 0,
    parkedClaims: 0,
  };

  /** Builds a broker; nothing happens until {@linkcode Broker.start}. */
  constructor(options: BrokerOptions) {
    const o = this.#o = resolveOptions(options);
    this.#identity = o.identity;
    this.#clock = o.clock;
    this.#log = (event) => {
      if (event.event === "ambiguous-write") this.#metrics.ambiguousWrites++;
      o.log(event);
    };
    this.#mailbox = new Mailbox({ capacity: o.mailboxCapacity });
    this.#parked = new ParkedClaims({ max: o.maxParkedClaims });
    const now = () => this.#clock.now();
    const { store, prefix, identity } = o;
    const log = this.#log;
    this.#stateStore = new StateStore({
      store,
      prefix,
      headKey: o.stateKey,
      identity,
      now,
      newNonce: o.newNonce,
      confirmAfterMs: o.checkpointMinIntervalMs / 2,
      log,
    });
    this.#archiver = new Archiver({
      store,
      maxJobs: o.archiveMaxJobs,
      maxAgeMs: o.archiveMaxAgeMs,
      log,
    });
    this.#checkpointer = new Checkpointer({
      stateStore: this.#stateStore,
      now,
      minRecords: o.checkpointMinRecords,
      maxRecords: o.checkpointMaxRecords,
      minIntervalMs: o.checkpointMinIntervalMs,
      archives: () => this.#archiver.index(),
      flushArchives: () => this.#archiver.flush(),
      onDeposed: () => this.#suspectDeposed(),
      log,
    });
    this.#replies = {
      parked: this.#parked,
      leading: () => this.#role === "leader",
      now,
      findArchived: (id) => this.#archiver.find(id),
      notLeader: () => this.#notLeader(),
    };
  }

  /**
   * Calls `listener` with the job events (completed, failed, dead, cancelled,
   * progress) of every commit that lands from now on; returns the function
   * that stops it.
   */
  watch(listener: (events: JobEvent[]) => void): () => void {
    this.#watchers.add(listener);
    return () => this.#watchers.delete(listener);
  }

  #tellWatchers(
    before: QueueState,
    after: QueueState,
    changes: ReadonlyMap<number, JobChange>,
  ): void {
    const events = jobEvents(before, after, changes);
    if (events.length === 0) return;
    for (const listener of this.#watchers) {
      try {
        listener(events);
      } catch (error) {
        this.#log({ event: "watcher-error", error: String(error) });
      }
    }
  }

  /** The head changed under us (a checkpoint's CAS failed): wake the loop, whose next write finds out. */
  #suspectDeposed(): void {
    this.#checkHead = true;
    try {
      this.#mailbox.post(DEPOSED_PROBE);
    } catch {
      // closed or full: the loop is busy or stopping anyway
    }
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
    const checkpoints = this.#checkpointer.metrics;
    const archives = this.#archiver.metrics;
    return {
      ...this.#metrics,
      archiveWrites: archives.writes,
      archiveBytes: archives.bytes,
      checkpoints: checkpoints.checkpoints,
      checkpointBytes: checkpoints.bytes,
      gcDeleted: checkpoints.deleted,
      parkedClaims: this.#parked.size,
    };
  }

  /**
   * Current leadership, as transports report it: `leader` only while the last
   * landed commit is recent (a leader frozen past the renewal window says no
   * until it commits again).
   */
  leaderInfo(): LeaderInfo {
    const leading = this.#role === "leader" &&
      leadsNow({
        lastLandedAt: this.#lastLandedAt,
        now: this.#clock.now(),
        windowMs: Math.min(this.#o.takeoverTimeoutMs, 2 * this.#o.renewIntervalMs),
      });
    const leader = this.#role === "leader" ? this.#identity : this.#knownLeader;
    const info: LeaderInfo = { leader: leading, brokerId: this.#identity.id };
    if (leader?.url !== undefined) info.leaderUrl = leader.url;
    return info;
  }

  /**
   * Loads the state (creating the queue when absent, converting a version-1
   * state) and becomes the leader — at once when the head names no leader or
   * names this broker's id, otherwise after the current leader stops
   * committing for `takeoverTimeoutMs` (until then the broker is a standby
   * and answers `not_leader`). Resolves once the broker is leader or standby.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const opened = await this.#stateStore.open();
    await this.#settleOpened(opened);
    this.#loop = this.#run();
  }

  /** Acts on what the head key holds: create, migrate, take over, or stand by. */
  async #settleOpened(opened: Opened): Promise<void> {
    const joined = await joinQueue(this.#stateStore, this.#identity, opened);
    if (joined.kind === "leader") return this.#becomeLeader(joined.loaded, joined.how);
    this.#state = joined.state;
    this.#becomeStandby(joined.leader, joined.reason);
  }

  /**
   * Stops, each step bounded by `stopTimeoutMs`: no new requests are taken,
   * the commit in flight finishes and is answered, everything else (queued
   * requests, parked claims) is rejected with `shutting_down`; the checkpoint
   * in progress and archive writes finish; the leader resigns.
   */
  async stop(): Promise<void> {
    if (this.#role === "stopped") return;
    const rest = this.#mailbox.close();
    this.#stopping.abort(new ShuttingDownError("broker is stopping"));
    const error = new ShuttingDownError("broker stopped before this request was committed");
    for (const pending of rest) pending.reject(error);
    const deadline = this.#o.stopTimeoutMs;
    await withDeadline(this.#clock, this.#started?.catch(() => {}), deadline, "start", this.#log);
    await withDeadline(this.#clock, this.#loop, deadline, "commit in flight", this.#log);
    this.#loop = undefined;
    this.#parked.rejectAll(error);
    if (this.#role === "leader") {
      await withDeadline(this.#clock, this.#checkpointer.stop(), deadline, "checkpoint", this.#log);
      await withDeadline(
        this.#clock,
        this.#archiver.flush().catch(() => {}),
        deadline,
        "archives",
        this.#log,
      );
      const resigned = await withDeadline(
        this.#clock,
        this.#stateStore.resign(),
        deadline,
        "resign",
        this.#log,
      );
      if (resigned === true) this.#log({ event: "resign", epoch: this.#stateStore.head.epoch });
    }
    this.#role = "stopped";
  }

  /**
   * Sends one operation. Resolves with its reply once the log record holding
   * it has landed (reads, and batches that change nothing, resolve without a
   * write). A `claim` with `waitMs` waits up to that long for a job. A request
   * sent while the broker starts waits for it (up to `startWaitMs`).
   */
  async request<O extends Operation>(
    operation: O,
    options: RequestOptions = {},
  ): Promise<OperationResult<O>> {
    const trusted = trustedOperation(operation, options);
    if (this.#role === "starting" && this.#started !== undefined) {
      await abortable(this.#clock, this.#started, this.#o.startWaitMs, options.signal).catch(
        () => {},
      );
    }
    if (this.#role !== "leader") throw this.#notLeader();
    // The parse built new objects (or the edge did): a caller mutating its
    // payload later cannot reach the state (queue_test.ts checks this).
    const value = await enqueue({
      mailbox: this.#mailbox,
      parked: this.#parked,
      operation: trusted,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return value as OperationResult<O>;
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
        await sleep(this.#clock, Math.min(1000, this.#o.standbyPollMs), stop);
      }
    }
  }

  async #leaderStep(stop: AbortSignal): Promise<void> {
    await this.#waitForWork(stop);
    if (stop.aborted && this.#mailbox.size === 0) return;
    const wait = this.#lastLandedAt + this.#o.minCommitIntervalMs - this.#clock.now();
    if (wait > 0) await sleep(this.#clock, wait, stop);
    else await this.#linger(stop);
    if (stop.aborted && this.#mailbox.size === 0) return;
    const batch = this.#mailbox.drain().filter((pending) => {
      if (pending === DEPOSED_PROBE) return false;
      if (!pending.signal?.aborted) return true;
      pending.reject(pending.signal.reason);
      return false;
    });
    await this.#tick(batch);
  }

  /**
   * Group commit: the demand is what the last commit carried plus what queued
   * while it was written; when fewer than ¾ of that are queued, linger a
   * little (at most `maxLingerMs`, at most half a write) for the rest (see
   * `pacing.ts`). Also yields to the event loop now and then, so that timers
   * run even when the store answers without ever waiting (MemoryStore).
   */
  async #linger(stop: AbortSignal): Promise<void> {
    const target = Math.ceil(this.#demand * 0.75);
    const ms = Math.min(this.#o.maxLingerMs, this.#lastWriteMs / 2);
    if (this.#mailbox.size < target && ms >= 0.2) {
      this.#ticksSinceYield = 0;
      return await lingerFor({ mailbox: this.#mailbox, clock: this.#clock, target, ms, stop });
    }
    if (++this.#ticksSinceYield >= 16) {
      this.#ticksSinceYield = 0;
      await sleep(this.#clock, 0, stop);
    }
  }

  /** Resolves when a request arrives or a timer (expiry check, due job, parked deadline, renewal) is due. */
  async #waitForWork(stop: AbortSignal): Promise<void> {
    if (this.#mailbox.size > 0) return;
    const now = this.#clock.now();
    let wakeAt = Math.min(this.#nextExpireAt, this.#lastWriteAttemptAt() + this.#o.renewIntervalMs);
    if (this.#parked.size > 0) {
      const due = nextDueAt(this.#state, now);
      // A lease already past expiry waits for the next expiry check, not a busy loop.
      if (due !== undefined && due > now) wakeAt = Math.min(wakeAt, due);
      wakeAt = Math.min(wakeAt, this.#parked.nextDeadline());
    }
    if (this.#archiver.hasFinished(this.#state)) {
      wakeAt = Math.min(wakeAt, now + this.#archiver.maxAgeMs);
    }
    const quietAt = this.#lastLandedAt + IDLE_CHECKPOINT_MS;
    if (this.#checkpointer.wantsIdle) {
      if (quietAt <= now) this.#checkpointer.idle(this.#state);
      else wakeAt = Math.min(wakeAt, quietAt);
    }
    const scheduleAt = nextScheduleAt((key) => this.#state.extra[key]);
    if (scheduleAt !== undefined) wakeAt = Math.min(wakeAt, scheduleAt);
    await waitForMessageOr({ mailbox: this.#mailbox, clock: this.#clock, wakeAt, stop });
  }

  /**
   * One tick: apply the batch (plus due housekeeping and parked claims) to
   * the state, append one log record, settle the replies.
   */
  async #tick(batch: Pending[]): Promise<void> {
    const now = this.#clock.now();
    const expireDue = now >= this.#nextExpireAt;
    if (expireDue) this.#nextExpireAt = now + this.#o.heartbeatCheckMs;
    const { operations: housekeeping, archiveIds } = housekeeping_({
      state: this.#state,
      now,
      expireDue,
      archiver: this.#archiver,
    });
    this.#parked.expire(now);
    const parked = this.#parked.takeAll();
    const operations = [...housekeeping, ...batch.map((pending) => pending.operation)];
    const renew = this.#checkHead || now - this.#lastWriteAttemptAt() >= this.#o.renewIntervalMs;
    this.#checkHead = false;
    let outcome: TickOutcome;
    try {
      outcome = await this.#commitBatch({
        operations,
        parked,
        renew,
        archiveIds,
        requests: batch.length,
      });
    } catch (thrown) {
      // A bug must not leave callers hanging: answer everyone with `internal`.
      this.#log({ event: "tick-error", error: String(thrown) });
      outcome = { error: tickError(thrown) };
    }
    // Claims parked earlier keep their places; new ones queue behind them (and hit the cap first).
    settleParked(this.#replies, parked, outcome.parkedReplies, outcome.error);
    settleBatch(this.#replies, batch, housekeeping.length, outcome.replies, outcome.error);
  }

  /** The time of the last write attempt, landed or failed (renewals wait for it, no busy loop). */
  #lastWriteAttemptAt(): number {
    return Math.max(this.#lastLandedAt, this.#lastFailedWriteAt);
  }

  /** Commits the batch, re-applying on the newer state after a conflict while still the leader. */
  async #commitBatch(batch: {
    operations: BrokerOperation[];
    parked: Pending[];
    renew: boolean;
    archiveIds: string[];
    requests: number;
  }): Promise<TickOutcome> {
    const started = this.#clock.now();
    for (let attempt = 0;; attempt++) {
      const outcome = await commitOnce(this.#stateStore, {
        ...batch,
        state: this.#state,
        context: {
          now: this.#clock.now(),
          defaultLeaseMs: this.#o.heartbeatTimeoutMs,
          newToken: this.#o.newToken,
          random: this.#o.random,
          ...(this.#o.limits === undefined
            ? {}
            : { limits: this.#o.limits, stateBytes: this.#checkpointer.stateBytes() }),
        },
      });
      switch (outcome.kind) {
        case "read-only":
          this.#metrics.readOnlyBatches++;
          this.#state = outcome.state;
          return outcome;
        case "landed": {
          const ms = this.#clock.now() - started;
          this.#landed(outcome.state, outcome.bytes, ms);
          if (this.#unconfirmedArchives.length > 0) {
            this.#archiver.add(this.#unconfirmedArchives);
            this.#unconfirmedArchives = [];
          }
          this.#archiver.landed(outcome.record, outcome.before);
          if (this.#watchers.size > 0) {
            this.#tellWatchers(outcome.before, outcome.state, outcome.changes);
          }
          this.#checkpointer.noteCommit(outcome.bytes, outcome.state);
          this.#metrics.committedRequests += batch.requests;
          this.#demand = batch.requests + this.#mailbox.size;
          const { epoch, seq } = outcome.record;
          const { requests } = batch;
          this.#log({
            event: "commit",
            epoch,
            seq,
            requests,
            operations: outcome.applied,
            bytes: outcome.bytes,
            ms,
          });
          return outcome;
        }
        case "deposed":
          this.#becomeStandby(
            outcome.leader,
            `epoch ${outcome.epoch} belongs to ${outcome.leader?.id}`,
          );
          return { error: this.#notLeader() };
        case "error":
          this.#lastFailedWriteAt = this.#clock.now();
          this.#log({ event: "storage-error", error: String(outcome.error) });
          return { error: outcome.error };
        case "conflict":
          this.#metrics.conflicts++;
          this.#log({ event: "conflict", seq: this.#state.commit + 1 });
          this.#state = outcome.state;
          // Records read while catching up may be this broker's own late writes
          // that landed in sequence numbers already collected (they do not
          // count): archive what they ask for only once a record of ours lands
          // on top of them (confirmed against the head after a gap).
          this.#unconfirmedArchives.push(...outcome.archives);
          if (attempt >= this.#o.maxConflictRetries) {
            this.#lastFailedWriteAt = this.#clock.now();
            return {
              error: new UnavailableError(
                `gave up after ${
                  attempt + 1
                } conflicting writes; is another process writing the log?`,
              ),
            };
          }
      }
    }
  }

  #landed(state: QueueState, bytes: number, ms: number): void {
    this.#state = state;
    this.#lastLandedAt = this.#clock.now();
    this.#lastWriteMs = ms;
    this.#metrics.commits++;
    this.#metrics.stateBytes = bytes;
    this.#metrics.logBytes += bytes;
  }

  // -------------------------------------------------------------------------
  // Leadership.

  #becomeLeader(loaded: LoadedState, how: string): void {
    this.#unconfirmedArchives = [];
    this.#state = loaded.state;
    this.#role = "leader";
    this.#knownLeader = this.#identity;
    this.#lastLandedAt = this.#clock.now();
    this.#nextExpireAt = this.#clock.now();
    this.#checkpointer.reset(loaded);
    this.#archiver.reset(loaded.manifest?.archives ?? [], loaded.archives);
    this.#log({
      event: "leader",
      how,
      epoch: loaded.state.epoch,
      commit: loaded.state.commit,
      tail: loaded.tail,
    });
  }

  #becomeStandby(leader: BrokerIdentity | null, reason: string): void {
    this.#unconfirmedArchives = [];
    const wasLeader = this.#role === "leader";
    this.#role = "standby";
    this.#knownLeader = leader;
    this.#log({ event: wasLeader ? "step-down" : "standby", reason, leader: leader?.id ?? null });
    if (wasLeader) {
      void this.#checkpointer.stop();
      const error = this.#notLeader();
      this.#parked.rejectAll(error);
      for (const pending of this.#mailbox.drain()) pending.reject(error);
    }
  }

  /** A standby follows the log by its own clock and takes over when it stalls or the leader resigned. */
  async #standbyStep(stop: AbortSignal): Promise<void> {
    const outcome = await followLeader({
      stateStore: this.#stateStore,
      now: () => this.#clock.now(),
      takeoverTimeoutMs: this.#o.takeoverTimeoutMs,
      pause: () =>
        Promise.race([sleep(this.#clock, this.#o.standbyPollMs, stop), this.#mailbox.next(stop)])
          .catch(
            () => {},
          ),
      rejectQueued: () => {
        for (const pending of this.#mailbox.drain()) pending.reject(this.#notLeader());
      },
      done: () => stop.aborted || this.#role !== "standby",
      state: () => this.#state,
      observe: (state, leader) => {
        this.#state = state;
        this.#knownLeader = leader;
      },
      log: this.#log,
    });
    if (outcome.kind === "leader") this.#becomeLeader(outcome.loaded, "takeover");
    else if (outcome.kind === "reopen") await this.#settleOpened(outcome.opened);
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

/** After this long without a commit, a leader checkpoints what the log holds (quiet time is cheap). */
const IDLE_CHECKPOINT_MS = 300;

interface TickOutcome {
  replies?: OperationReply[];
  parkedReplies?: Map<Pending, OperationReply>;
  error?: OsqueueError;
}

/** Posted by the checkpointer when the head changed under the leader: wakes the loop, which finds out on its next write. */
const DEPOSED_PROBE: Pending = {
  operation: { op: "stats" },
  resolve: () => {},
  reject: () => {},
};
