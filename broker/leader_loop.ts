/**
 * The leader's loop: wait for requests or the next timer, linger for the
 * group, apply the batch and append one log record (re-applying after a
 * conflict), then settle the replies. One {@linkcode LeaderLoop.step} is one
 * tick; the {@linkcode Broker} runs steps while it leads and keeps
 * everything else (lifecycle, leadership changes, the public API).
 *
 * @module
 */
import type { OsqueueError } from "../errors.ts";
import { UnavailableError } from "../errors.ts";
import type { Mailbox } from "../actors/mailbox.ts";
import type { Clock } from "../clock.ts";
import type { BrokerOperation, OperationReply } from "../core/apply.ts";
import type { JobWatchers } from "./job_watchers.ts";
import { type BrokerIdentity, nextDueAt, type QueueState } from "../core/state.ts";
import { nextScheduleAt } from "../core/schedules.ts";
import type { ArchiveWrite, StateStore } from "./state_store.ts";
import type { Checkpointer } from "./checkpointer.ts";
import type { Archiver } from "./archiver.ts";
import { commitOnce } from "./commit_batch.ts";
import { housekeeping as housekeeping_, tickError } from "./intake.ts";
import { lingerFor, waitForMessageOr } from "./pacing.ts";
import type { ParkedClaims, Pending } from "./parked_claims.ts";
import { settleBatch, type SettleContext, settleParked } from "./replies.ts";
import type { BrokerEvent, BrokerMetrics, ResolvedBrokerOptions } from "./options.ts";
import { sleep } from "./timing.ts";

/** What the loop uses of its broker. */
export interface LeaderContext {
  /** The broker's resolved options. */
  o: ResolvedBrokerOptions;
  /** The broker's clock. */
  clock: Clock;
  /** The broker's event log. */
  log: (event: BrokerEvent) => void;
  /** Requests waiting for the next tick. */
  mailbox: Mailbox<Pending>;
  /** Long-poll claims waiting for a job. */
  parked: ParkedClaims;
  /** The log and checkpoints in the store. */
  stateStore: StateStore;
  /** Background checkpoints. */
  checkpointer: Checkpointer;
  /** Archive writes of finished jobs. */
  archiver: Archiver;
  /** How replies are settled. */
  replies: SettleContext;
  /** The broker's counters (updated in place). */
  metrics: BrokerMetrics;
  /** The committed state. */
  state(): QueueState;
  /** Replaces the committed state. */
  setState(state: QueueState): void;
  /** Who hears the job events of landed commits. */
  watchers: JobWatchers;
  /** Steps down: another broker leads. */
  stepDown(leader: BrokerIdentity | null, reason: string): void;
  /** The error for requests this broker cannot take. */
  notLeader(): OsqueueError;
}

/** One leader's loop state: pacing, renewals, expiry checks and the commit of each batch. */
export class LeaderLoop {
  readonly #c: LeaderContext;
  /** When the last record landed (clock time). */
  #lastLandedAt = 0;
  #lastFailedWriteAt = 0;
  /** Requests the last commit answered (their callers may come back with more). */
  #answered = 0;
  /**
   * Requests queued when the last tick settled its replies: they came from
   * other callers (the answered ones had no reply yet), so they add to the
   * demand; requests that come later may be the answered callers' own.
   */
  #queuedAtSettle = 0;
  /** Lingers in a row that ran out before their target arrived. */
  #lingerMisses = 0;
  /** Ticks left that do not linger (after lingers kept running out). */
  #lingerPause = 0;
  #ticksSinceYield = 0;
  /** Set when the head changed under the leader: the next tick writes, to find out. */
  #checkHead = false;
  #nextExpireAt = 0;
  /** Archive objects asked for by records read in a conflict, until a record of ours lands on them. */
  #unconfirmedArchives: ArchiveWrite[] = [];

  /** A loop for the broker behind `context`. */
  constructor(context: LeaderContext) {
    this.#c = context;
  }

  /** When the last record landed (clock time). */
  get lastLandedAt(): number {
    return this.#lastLandedAt;
  }

  /** Starts leading now: counts as a landing, checks expiry at once, forgets old archive asks. */
  reset(): void {
    this.#unconfirmedArchives = [];
    this.#lastLandedAt = this.#c.clock.now();
    this.#nextExpireAt = this.#c.clock.now();
  }

  /** Stops leading: forgets archive asks that no record of ours confirmed. */
  forget(): void {
    this.#unconfirmedArchives = [];
  }

  /** The head changed under the leader: the next tick writes, to find out. */
  checkHead(): void {
    this.#checkHead = true;
  }

  /** Waits for work, lingers for the group, and commits one batch. */
  async step(stop: AbortSignal): Promise<void> {
    await this.#waitForWork(stop);
    if (stop.aborted && this.#c.mailbox.size === 0) return;
    const wait = this.#lastLandedAt + this.#c.o.minCommitIntervalMs - this.#c.clock.now();
    if (wait > 0) await sleep(this.#c.clock, wait, stop);
    else await this.#linger(stop);
    if (stop.aborted && this.#c.mailbox.size === 0) return;
    const batch = this.#c.mailbox.drain().filter((pending) => {
      if (pending === DEPOSED_PROBE) return false;
      if (!pending.signal?.aborted) return true;
      pending.reject(pending.signal.reason);
      return false;
    });
    await this.#tick(batch);
  }

  /**
   * Group commit: first the loop reads what the sockets hold (a blocking
   * write leaves requests unread until the loop turns). The demand is what
   * the last commit answered (in a closed loop those callers come back with
   * their next requests a moment later) plus what was already queued when
   * its replies went out (other callers', sent while the record was being
   * written). When fewer than ¾ of that are queued, linger (at most
   * `maxLingerMs`) for the rest, so callers who took turns in two
   * alternating groups share one write (see `pacing.ts`). After lingers ran
   * out three times in a row, no linger for the next 200 ticks. Also yields to the
   * event loop now and then, so that timers run even when the store answers
   * without ever waiting (MemoryStore).
   */
  async #linger(stop: AbortSignal): Promise<void> {
    const answered = this.#answered;
    this.#answered = 0;
    if (answered > 0) {
      // Requests that came in during the write may still sit in the sockets
      // (a blocking write stops the loop): turn the loop while they come.
      for (let turn = 0; turn < MAX_INGEST_TURNS && !stop.aborted; turn++) {
        const before = this.#c.mailbox.size;
        await sleep(this.#c.clock, 0, stop);
        if (this.#c.mailbox.size === before) break;
      }
    }
    // Not `answered + size`: once the answered callers are back in the mailbox
    // they would count twice, and the linger would wait for requests no one sends.
    const demand = answered + this.#queuedAtSettle;
    const target = Math.ceil(demand * 0.75);
    const ms = this.#c.o.maxLingerMs;
    if (this.#lingerPause > 0) {
      this.#lingerPause--;
    } else if (demand >= MIN_LINGER_DEMAND && this.#c.mailbox.size < target && ms > 0) {
      this.#ticksSinceYield = 0;
      const { mailbox, clock } = this.#c;
      const reached = await lingerFor({ mailbox, clock, target, ms, stop });
      // Lingers that keep running out only delay: the callers do not come back
      // that fast (an open loop, or a client whose socket holds small writes
      // back until the broker sends something). Stop lingering for a while.
      this.#lingerMisses = reached ? 0 : this.#lingerMisses + 1;
      if (this.#lingerMisses >= LINGER_MISSES_BEFORE_PAUSE) {
        this.#lingerMisses = 0;
        this.#lingerPause = LINGER_PAUSE_TICKS;
      }
      return;
    }
    if (++this.#ticksSinceYield >= 16) {
      this.#ticksSinceYield = 0;
      await sleep(this.#c.clock, 0, stop);
    }
  }

  /** Resolves when a request arrives or a timer (expiry check, due job, parked deadline, renewal) is due. */
  async #waitForWork(stop: AbortSignal): Promise<void> {
    if (this.#c.mailbox.size > 0) return;
    const now = this.#c.clock.now();
    let wakeAt = Math.min(
      this.#nextExpireAt,
      this.#lastWriteAttemptAt() + this.#c.o.renewIntervalMs,
    );
    if (this.#c.parked.size > 0) {
      const due = nextDueAt(this.#c.state(), now);
      // A lease already past expiry waits for the next expiry check, not a busy loop.
      if (due !== undefined && due > now) wakeAt = Math.min(wakeAt, due);
      wakeAt = Math.min(wakeAt, this.#c.parked.nextDeadline());
    }
    if (this.#c.archiver.hasFinished(this.#c.state())) {
      wakeAt = Math.min(wakeAt, now + this.#c.archiver.maxAgeMs);
    }
    const quietAt = this.#lastLandedAt + IDLE_CHECKPOINT_MS;
    if (this.#c.checkpointer.wantsIdle) {
      if (quietAt <= now) this.#c.checkpointer.idle(this.#c.state());
      else wakeAt = Math.min(wakeAt, quietAt);
    }
    const scheduleAt = nextScheduleAt((key) => this.#c.state().extra[key]);
    if (scheduleAt !== undefined) wakeAt = Math.min(wakeAt, scheduleAt);
    await waitForMessageOr({ mailbox: this.#c.mailbox, clock: this.#c.clock, wakeAt, stop });
  }

  /**
   * One tick: apply the batch (plus due housekeeping and parked claims) to
   * the state, append one log record, settle the replies.
   */
  async #tick(batch: Pending[]): Promise<void> {
    const now = this.#c.clock.now();
    const expireDue = now >= this.#nextExpireAt;
    if (expireDue) this.#nextExpireAt = now + this.#c.o.heartbeatCheckMs;
    const { operations: housekeeping, archiveIds } = housekeeping_({
      state: this.#c.state(),
      now,
      expireDue,
      archiver: this.#c.archiver,
    });
    this.#c.parked.expire(now);
    const parked = this.#c.parked.takeAll();
    const operations = [...housekeeping, ...batch.map((pending) => pending.operation)];
    const renew = this.#checkHead || now - this.#lastWriteAttemptAt() >= this.#c.o.renewIntervalMs;
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
      this.#c.log({ event: "tick-error", error: String(thrown) });
      outcome = { error: tickError(thrown) };
    }
    // Claims parked earlier keep their places; new ones queue behind them (and hit the cap first).
    settleParked(this.#c.replies, parked, outcome.parkedReplies, outcome.error);
    settleBatch(this.#c.replies, batch, housekeeping.length, outcome.replies, outcome.error);
    this.#queuedAtSettle = this.#c.mailbox.size;
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
    const started = this.#c.clock.now();
    for (let attempt = 0;; attempt++) {
      const outcome = await commitOnce(this.#c.stateStore, {
        ...batch,
        state: this.#c.state(),
        context: {
          now: this.#c.clock.now(),
          defaultLeaseMs: this.#c.o.heartbeatTimeoutMs,
          newToken: this.#c.o.newToken,
          random: this.#c.o.random,
          ...(this.#c.o.limits === undefined
            ? {}
            : { limits: this.#c.o.limits, stateBytes: this.#c.checkpointer.stateBytes() }),
        },
      });
      switch (outcome.kind) {
        case "read-only":
          this.#c.metrics.readOnlyBatches++;
          this.#c.setState(outcome.state);
          return outcome;
        case "landed": {
          const ms = this.#c.clock.now() - started;
          this.#landed(outcome.state, outcome.bytes);
          if (this.#unconfirmedArchives.length > 0) {
            this.#c.archiver.add(this.#unconfirmedArchives);
            this.#unconfirmedArchives = [];
          }
          this.#c.archiver.landed(outcome.record, outcome.before);
          if (this.#c.watchers.active) {
            this.#c.watchers.tell(outcome.before, outcome.state, outcome.changes);
          }
          this.#c.checkpointer.noteCommit(outcome.bytes, outcome.state);
          this.#c.metrics.committedRequests += batch.requests;
          this.#answered = batch.requests;
          const { epoch, seq } = outcome.record;
          const { requests } = batch;
          this.#c.log({
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
          this.#c.stepDown(
            outcome.leader,
            `epoch ${outcome.epoch} belongs to ${outcome.leader?.id}`,
          );
          return { error: this.#c.notLeader() };
        case "error":
          this.#lastFailedWriteAt = this.#c.clock.now();
          this.#c.log({ event: "storage-error", error: String(outcome.error) });
          return { error: outcome.error };
        case "conflict":
          this.#c.metrics.conflicts++;
          this.#c.log({ event: "conflict", seq: this.#c.state().commit + 1 });
          this.#c.setState(outcome.state);
          // Records read while catching up may be this broker's own late writes
          // that landed in sequence numbers already collected (they do not
          // count): archive what they ask for only once a record of ours lands
          // on top of them (confirmed against the head after a gap).
          this.#unconfirmedArchives.push(...outcome.archives);
          if (attempt >= this.#c.o.maxConflictRetries) {
            this.#lastFailedWriteAt = this.#c.clock.now();
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

  #landed(state: QueueState, bytes: number): void {
    this.#c.setState(state);
    this.#lastLandedAt = this.#c.clock.now();
    this.#c.metrics.commits++;
    this.#c.metrics.stateBytes = bytes;
    this.#c.metrics.logBytes += bytes;
  }
}

/** At most this many event-loop turns to read requests left in the sockets by a write. */
const MAX_INGEST_TURNS = 16;

/** This many lingers in a row that run out pause lingering for {@linkcode LINGER_PAUSE_TICKS} ticks. */
const LINGER_MISSES_BEFORE_PAUSE = 3;

/** How many ticks lingering pauses after lingers kept running out. */
const LINGER_PAUSE_TICKS = 200;

/** Below this many expected requests a tick never lingers: merging would save little. */
const MIN_LINGER_DEMAND = 4;

/** After this long without a commit, a leader checkpoints what the log holds (quiet time is cheap). */
const IDLE_CHECKPOINT_MS = 300;

interface TickOutcome {
  replies?: OperationReply[];
  parkedReplies?: Map<Pending, OperationReply>;
  error?: OsqueueError;
}

/** Posted by the checkpointer when the head changed under the leader: wakes the loop, which finds out on its next write. */
export const DEPOSED_PROBE: Pending = {
  operation: { op: "stats" },
  resolve: () => {},
  reject: () => {},
};
