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
import { NotLeaderError, type OsqueueError, ShuttingDownError } from "../errors.ts";
import { Mailbox } from "../actors/mailbox.ts";
import type { Clock } from "../clock.ts";
import type { Operation, OperationResult } from "../protocol/operations.ts";
import type { JobEvent, LeaderInfo, QueueBackend, RequestOptions } from "../protocol/backend.ts";
import { type BrokerIdentity, createState, type QueueState } from "../core/state.ts";
import { type LoadedState, type Opened, StateStore } from "./state_store.ts";
import { Checkpointer } from "./checkpointer.ts";
import { Archiver } from "./archiver.ts";
import { leadsNow } from "./leadership.ts";
import { followLeader } from "./standby.ts";
import { enqueue, trustedOperation } from "./intake.ts";
import { joinQueue } from "./startup.ts";
import { DEPOSED_PROBE, LeaderLoop } from "./leader_loop.ts";
import { JobWatchers } from "./job_watchers.ts";
import { ParkedClaims, type Pending } from "./parked_claims.ts";
import type { SettleContext } from "./replies.ts";
import {
  type BrokerEvent,
  type BrokerMetrics,
  type BrokerOptions,
  type BrokerRole,
  emptyMetrics,
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
  readonly #watchers: JobWatchers;

  #role: BrokerRole = "starting";
  #state: QueueState = createState();
  #started: Promise<void> | undefined;
  #knownLeader: BrokerIdentity | null = null;
  readonly #leader: LeaderLoop;
  #loop: Promise<void> | undefined;
  #stopping = new AbortController();
  #metrics: BrokerMetrics = emptyMetrics();

  /** Builds a broker; nothing happens until {@linkcode Broker.start}. */
  constructor(options: BrokerOptions) {
    const o = this.#o = resolveOptions(options);
    this.#identity = o.identity;
    this.#clock = o.clock;
    this.#log = (event) => {
      if (event.event === "ambiguous-write") this.#metrics.ambiguousWrites++;
      o.log(event);
    };
    this.#watchers = new JobWatchers((error) =>
      this.#log({ event: "watcher-error", error: String(error) })
    );
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
    this.#leader = new LeaderLoop({
      o,
      clock: this.#clock,
      log,
      mailbox: this.#mailbox,
      parked: this.#parked,
      stateStore: this.#stateStore,
      checkpointer: this.#checkpointer,
      archiver: this.#archiver,
      replies: this.#replies,
      metrics: this.#metrics,
      state: () => this.#state,
      setState: (state) => this.#state = state,
      watchers: this.#watchers,
      stepDown: (leader, reason) => this.#becomeStandby(leader, reason),
      notLeader: () => this.#notLeader(),
    });
  }

  /**
   * Calls `listener` with the job events (completed, failed, dead, cancelled,
   * progress) of every commit that lands from now on; returns the function
   * that stops it.
   */
  watch(listener: (events: JobEvent[]) => void): () => void {
    return this.#watchers.add(listener);
  }

  /** The head changed under us (a checkpoint's CAS failed): wake the loop, whose next write finds out. */
  #suspectDeposed(): void {
    this.#leader.checkHead();
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
        lastLandedAt: this.#leader.lastLandedAt,
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
        if (this.#role === "leader") await this.#leader.step(stop);
        else await this.#standbyStep(stop);
      } catch (error) {
        if (stop.aborted) break;
        this.#log({ event: "loop-error", error: String(error) });
        await sleep(this.#clock, Math.min(1000, this.#o.standbyPollMs), stop);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Leadership.

  #becomeLeader(loaded: LoadedState, how: string): void {
    this.#state = loaded.state;
    this.#role = "leader";
    this.#knownLeader = this.#identity;
    this.#leader.reset();
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
    this.#leader.forget();
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
