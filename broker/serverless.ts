/**
 * Serverless mode: a broker for hosts that run several short-lived instances
 * behind one URL with no way to address one of them (Deno Deploy, other
 * serverless platforms). Every instance serves every request; there is no
 * leader, so clients never see `not_leader`.
 *
 * - **Commits.** Every instance appends the next log record with
 *   create-if-absent, all in the head's epoch. When another instance took the
 *   sequence number first, it reads the newer records, re-applies its batch on
 *   the newer state and tries again (at most `maxConflictRetries` times, then
 *   the batch fails with `unavailable`). Replies are settled only after the
 *   record holding them landed, exactly as in the leader broker.
 * - **Housekeeping** (lease expiry, due delayed jobs, archiving finished jobs)
 *   is done by whichever instance runs: it is just operations in a batch, and
 *   re-applying them on a newer state is harmless.
 * - **Tailing.** An instance reads records written by others every
 *   `pollIntervalMs` (and on every conflict). A long-poll claim parked on this
 *   instance is re-checked after each such read, so a job pushed through
 *   another instance reaches it within one poll interval (plus a write).
 * - **Checkpoints and GC** are done by one instance at a time, see
 *   `serverless_janitor.ts`. An instance syncs with the log at least every
 *   `pollIntervalMs` (≤ `gcGraceMs / 2`) before it writes.
 * - **No waiting on a kill.** Nothing is owned by an instance: an abrupt kill
 *   costs the requests in flight on it, nothing else. `stop()` finishes the
 *   write in flight and ends every timer (no renewal loop).
 *
 * Do not run serverless and leader-mode brokers on the same queue.
 *
 * @module
 */
import { type OsqueueError, ShuttingDownError, UnavailableError } from "../errors.ts";
import { Mailbox } from "../actors/mailbox.ts";
import type { Clock } from "../clock.ts";
import type { Operation, OperationResult } from "../protocol/operations.ts";
import type { LeaderInfo, QueueBackend, RequestOptions } from "../protocol/backend.ts";
import type { BrokerOperation, OperationReply } from "../core/apply.ts";
import { type BrokerIdentity, createState, nextDueAt, type QueueState } from "../core/state.ts";
import { enqueue, housekeeping as housekeeping_, tickError, trustedOperation } from "./intake.ts";
import { commitOnce } from "./commit_batch.ts";
import type { LoadedState, StateStore } from "./state_store.ts";
import { openSharedQueue } from "./startup.ts";
import type { Archiver } from "./archiver.ts";
import { replayLog } from "./log_replay.ts";
import { ParkedClaims, type Pending } from "./parked_claims.ts";
import { settleBatch, type SettleContext, settleParked } from "./replies.ts";
import type { BrokerEvent, ResolvedBrokerOptions } from "./options.ts";
import {
  resolveServerlessOptions,
  type ServerlessBrokerOptions,
  type ServerlessMetrics,
} from "./serverless_options.ts";
import { serverlessParts } from "./serverless_parts.ts";
import { sleep, withDeadline } from "./timing.ts";
import { waitForMessageOr } from "./pacing.ts";
import type { ServerlessJanitor } from "./serverless_janitor.ts";
import type { ContentionPacer } from "./serverless_pacing.ts";

export type { ServerlessBrokerOptions, ServerlessMetrics } from "./serverless_options.ts";

/** The serverless broker: every instance serves every request (see the module doc). */
export class ServerlessBroker implements QueueBackend {
  readonly #o: ResolvedBrokerOptions;
  readonly #pollIntervalMs: number;
  readonly #clock: Clock;
  readonly #log: (event: BrokerEvent) => void;
  readonly #mailbox: Mailbox<Pending>;
  readonly #stateStore: StateStore;
  readonly #archiver: Archiver;
  readonly #janitor: ServerlessJanitor;
  readonly #parked: ParkedClaims;
  readonly #replies: SettleContext;
  readonly #pacer: ContentionPacer;
  #state: QueueState = createState();
  #serving = false;
  #stoppedFlag = false;
  #started: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #stopping = new AbortController();
  #lastSyncAt = 0;
  #lastLandedAt = 0;
  #nextExpireAt = 0;
  #metrics = {
    commits: 0,
    committedRequests: 0,
    readOnlyBatches: 0,
    conflicts: 0,
    gaveUp: 0,
    polls: 0,
    recordsRead: 0,
  };

  /** Builds an instance; nothing happens until {@linkcode ServerlessBroker.start}. */
  constructor(options: ServerlessBrokerOptions) {
    const resolved = resolveServerlessOptions(options);
    const o = this.#o = resolved.broker;
    this.#pollIntervalMs = resolved.pollIntervalMs;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#mailbox = new Mailbox({ capacity: o.mailboxCapacity });
    this.#parked = new ParkedClaims({ max: o.maxParkedClaims });
    const now = () => this.#clock.now();
    ({
      stateStore: this.#stateStore,
      archiver: this.#archiver,
      janitor: this.#janitor,
      pacer: this.#pacer,
    } = serverlessParts(resolved, now));
    this.#replies = {
      parked: this.#parked,
      leading: () => this.#serving && !this.#stopping.signal.aborted,
      now,
      findArchived: (id) => this.#archiver.find(id),
      notLeader: () => new ShuttingDownError("broker is stopping"),
    };
  }

  /** This instance's identity. */
  get identity(): BrokerIdentity {
    return this.#o.identity;
  }

  /** The state as this instance last committed or read it. */
  get state(): QueueState {
    return this.#state;
  }

  /** A snapshot of the counters. */
  get metrics(): ServerlessMetrics {
    return { ...this.#metrics, janitor: this.#janitor.metrics };
  }

  /** Whether this instance serves requests: every running instance does (there is no leader). */
  leaderInfo(): LeaderInfo {
    return {
      leader: this.#serving && !this.#stopping.signal.aborted,
      brokerId: this.#o.identity.id,
    };
  }

  /** Loads (or creates) the queue and starts serving; after a failure, a new call tries again. */
  start(): Promise<void> {
    this.#started ??= this.#start().catch((error) => {
      this.#started = undefined; // a failed start (store unreachable) may be tried again
      throw error;
    });
    return this.#started;
  }

  async #start(): Promise<void> {
    this.#adopt(await openSharedQueue(this.#stateStore));
    this.#serving = true;
    this.#nextExpireAt = this.#clock.now();
    this.#log({ event: "serverless-start", commit: this.#state.commit, epoch: this.#state.epoch });
    this.#loop = this.#run();
  }

  /** Takes a freshly loaded state (start, or a reload after the log was collected past ours). */
  #adopt(loaded: LoadedState): void {
    this.#state = loaded.state;
    this.#lastSyncAt = this.#clock.now();
    this.#archiver.reset(loaded.manifest?.archives ?? [], loaded.archives);
    this.#janitor.reset(loaded);
  }

  /**
   * Stops, each step bounded by `stopTimeoutMs`: new requests are refused, the
   * write in flight finishes and is answered, everything queued or parked is
   * rejected with `shutting_down`, the checkpoint in progress and the archive
   * writes finish. No timer is left behind.
   */
  async stop(): Promise<void> {
    if (this.#stoppedFlag) return;
    this.#stoppedFlag = true;
    const rest = this.#mailbox.close();
    this.#stopping.abort(new ShuttingDownError("broker is stopping"));
    const error = new ShuttingDownError("broker stopped before this request was committed");
    for (const pending of rest) pending.reject(error);
    const deadline = this.#o.stopTimeoutMs;
    await withDeadline(this.#clock, this.#started?.catch(() => {}), deadline, "start", this.#log);
    await withDeadline(this.#clock, this.#loop, deadline, "commit in flight", this.#log);
    this.#parked.rejectAll(error);
    await withDeadline(this.#clock, this.#janitor.stop(), deadline, "checkpoint", this.#log);
    await withDeadline(
      this.#clock,
      this.#archiver.flush().catch(() => {}),
      deadline,
      "archives",
      this.#log,
    );
    this.#serving = false;
  }

  /**
   * Sends one operation; resolves with its reply once the log record holding
   * it has landed (reads resolve without a write). Never `not_leader`.
   */
  async request<O extends Operation>(
    operation: O,
    options: RequestOptions = {},
  ): Promise<OperationResult<O>> {
    const trusted = trustedOperation(operation, options);
    if (this.#started === undefined) throw new UnavailableError("broker not started");
    await this.#started;
    if (this.#stopping.signal.aborted) throw new ShuttingDownError("broker is stopped");
    const value = await enqueue({
      mailbox: this.#mailbox,
      parked: this.#parked,
      operation: trusted,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return value as OperationResult<O>;
  }

  async #run(): Promise<void> {
    const stop = this.#stopping.signal;
    while (!stop.aborted || this.#mailbox.size > 0) {
      try {
        await this.#step(stop);
      } catch (error) {
        if (stop.aborted) break;
        this.#log({ event: "loop-error", error: String(error) });
        await sleep(this.#clock, Math.min(1000, this.#pollIntervalMs), stop);
      }
    }
  }

  async #step(stop: AbortSignal): Promise<void> {
    await this.#waitForWork(stop);
    if (stop.aborted && this.#mailbox.size === 0) return;
    const wait = this.#pacer.nextWriteAt() - this.#clock.now();
    if (wait > 0) await sleep(this.#clock, wait, stop);
    if (this.#clock.now() - this.#lastSyncAt >= this.#pollIntervalMs) await this.#sync();
    await this.#pacer.check();
    const batch = this.#mailbox.drain().filter((pending) => {
      if (!pending.signal?.aborted) return true;
      pending.reject(pending.signal.reason);
      return false;
    });
    await this.#tick(batch);
  }

  /** Resolves when a request arrives, or it is time to poll the log or for a timer (expiry, due job, parked deadline). */
  async #waitForWork(stop: AbortSignal): Promise<void> {
    if (this.#mailbox.size > 0) return;
    const now = this.#clock.now();
    let wakeAt = Math.min(this.#nextExpireAt, this.#lastSyncAt + this.#pollIntervalMs);
    if (this.#parked.size > 0) {
      const due = nextDueAt(this.#state, now);
      if (due !== undefined && due > now) wakeAt = Math.min(wakeAt, due);
      wakeAt = Math.min(wakeAt, this.#parked.nextDeadline());
    }
    if (this.#archiver.hasFinished(this.#state)) {
      wakeAt = Math.min(wakeAt, now + this.#archiver.maxAgeMs);
    }
    await waitForMessageOr({ mailbox: this.#mailbox, clock: this.#clock, wakeAt, stop });
  }

  /**
   * Reads what other instances wrote: the records after ours, or the whole
   * state again when the head's checkpoint is past ours (our log was collected).
   */
  async #sync(): Promise<void> {
    const startedAt = this.#clock.now();
    this.#metrics.polls++;
    const opened = await this.#stateStore.open();
    if (opened.kind !== "head") throw new UnavailableError(`the head is ${opened.kind}`);
    const checkpoint = opened.head.checkpoint;
    if (checkpoint !== null && checkpoint.seq > this.#state.commit) {
      const loaded = await this.#stateStore.load(opened);
      this.#metrics.recordsRead += loaded.state.commit - this.#state.commit;
      this.#adopt(loaded);
      this.#lastSyncAt = startedAt;
      return;
    }
    const tail = await replayLog({
      store: this.#o.store,
      prefix: this.#o.prefix,
      state: this.#state,
    });
    this.#metrics.recordsRead += tail.records;
    if (tail.records > 0) this.#pacer.othersSeen(startedAt);
    this.#state = tail.state;
    this.#archiver.add(tail.archives);
    this.#lastSyncAt = startedAt;
    if (tail.records > 0) this.#janitor.noteState(this.#state);
  }

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
    let outcome: TickOutcome;
    try {
      outcome = await this.#commit(operations, parked, archiveIds, batch.length);
    } catch (thrown) {
      this.#log({ event: "tick-error", error: String(thrown) });
      outcome = { error: tickError(thrown) };
    }
    settleParked(this.#replies, parked, outcome.parkedReplies, outcome.error);
    settleBatch(this.#replies, batch, housekeeping.length, outcome.replies, outcome.error);
  }

  /** Commits, re-applying on the newer state after each conflict, at most `maxConflictRetries` times. */
  async #commit(
    operations: BrokerOperation[],
    parked: Pending[],
    archiveIds: string[],
    requests: number,
  ): Promise<TickOutcome> {
    for (let attempt = 0;; attempt++) {
      const startedAt = this.#clock.now();
      const outcome = await commitOnce(this.#stateStore, {
        state: this.#state,
        operations,
        parked,
        renew: false,
        archiveIds,
        context: {
          now: startedAt,
          defaultLeaseMs: this.#o.heartbeatTimeoutMs,
          newToken: this.#o.newToken,
          random: this.#o.random,
        },
      });
      switch (outcome.kind) {
        case "read-only":
          this.#metrics.readOnlyBatches++;
          this.#state = outcome.state;
          return outcome;
        case "landed":
          this.#state = outcome.state;
          // Record seq-1 was ours and seq was free: we were at the tip when the write started.
          this.#lastSyncAt = startedAt;
          this.#lastLandedAt = this.#clock.now();
          this.#pacer.landed(this.#lastLandedAt, this.#lastLandedAt - startedAt);
          this.#metrics.commits++;
          this.#metrics.committedRequests += requests;
          this.#archiver.landed(outcome.record, outcome.before);
          this.#janitor.noteState(outcome.state);
          this.#log({
            event: "commit",
            epoch: outcome.record.epoch,
            seq: outcome.record.seq,
            requests,
            operations: outcome.applied,
            bytes: outcome.bytes,
            attempt,
          });
          return outcome;
        case "error":
          this.#log({ event: "storage-error", error: String(outcome.error) });
          return { error: outcome.error };
        case "conflict":
          this.#metrics.conflicts++;
          this.#pacer.lost(attempt + 1);
          this.#state = outcome.state;
          this.#lastSyncAt = startedAt;
          this.#archiver.add(outcome.archives);
          this.#log({ event: "conflict", seq: outcome.state.commit, attempt });
          break;
        case "deposed": {
          // Someone ran a leader-mode broker on this queue (a newer epoch): follow its head.
          this.#log({ event: "epoch-changed", epoch: outcome.epoch });
          this.#adopt(await this.#stateStore.load());
          break;
        }
      }
      if (attempt >= this.#o.maxConflictRetries) {
        this.#metrics.gaveUp++;
        return {
          error: new UnavailableError(
            `gave up after ${attempt + 1} conflicting writes: too many instances writing at once`,
          ),
        };
      }
      // At the tip again: write at once (waiting would only lose the next race too).
    }
  }
}

interface TickOutcome {
  replies?: OperationReply[];
  parkedReplies?: Map<Pending, OperationReply>;
  error?: OsqueueError;
}
