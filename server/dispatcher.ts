/**
 * Push delivery for one connection: keeps the worker's credits and holds
 * parked long-poll claims in the backend for them, so a pushed job reaches an
 * idle worker within about one commit, and a busy worker is never sent more
 * jobs than it asked for.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { BadRequestError, DisconnectedError, OsqueueError, ValidationError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { type ClaimedJob, LIMITS } from "../protocol/operations.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import { releaseJobs } from "./release_jobs.ts";

/** How long a parked push-delivery claim waits in the broker before it is re-armed, ms. */
export const DEFAULT_CLAIM_WAIT_MS = 25_000;

/**
 * How long the dispatcher keeps waiting, after aborting a claim, for the
 * backend to settle it, ms. Past it {@linkcode PushDispatcher.settled} stops
 * waiting for that claim (jobs it still returns are released when they come).
 */
export const DEFAULT_ABORT_GRACE_MS = 5_000;

/** Most claims one connection keeps parked at once; extra credits wait for one to return. */
export const DEFAULT_MAX_PARKED_CLAIMS = 8;

/** Most credits one connection may hold at once. */
export const MAX_CREDITS = 10_000;

/** Options of {@linkcode PushDispatcher}. */
export interface PushDispatcherOptions {
  /** The broker. */
  backend: QueueBackend;
  /**
   * Sends a `deliver` notification; returns `false` when the connection can no
   * longer take it (the jobs are then released back to the queue).
   */
  deliver: (jobs: ClaimedJob[]) => boolean;
  /**
   * Called when a parked claim fails with an error that retrying on this
   * connection cannot fix (`not_leader`, `shutting_down`); the connection
   * should be closed so the client reconnects.
   */
  onFatal?: (error: OsqueueError) => void;
  /** Log sink. */
  log?: (line: string) => void;
  /**
   * Whether the connection is keeping up (its outbound buffer is below the
   * pause threshold). While it returns `false`, no claim is armed, and jobs a
   * claim still returns are released (not delivered), so a consumer that does
   * not read its socket cannot sit on jobs other workers could run. Checked
   * again every `congestionCheckMs`. Default: always keeping up.
   */
  keepingUp?: () => boolean;
  /** How often delivery re-checks a connection that is not keeping up, ms (default 100). */
  congestionCheckMs?: number;
  /** How long each parked claim waits in the broker, ms (default {@linkcode DEFAULT_CLAIM_WAIT_MS}). */
  claimWaitMs?: number;
  /** Most claims parked at once (default {@linkcode DEFAULT_MAX_PARKED_CLAIMS}). */
  maxParkedClaims?: number;
  /** First retry delay after a failed claim, ms (default 100; doubles up to `maxRetryDelayMs`). */
  retryDelayMs?: number;
  /** Longest retry delay, ms (default 5000). */
  maxRetryDelayMs?: number;
  /** Wait for an aborted claim to settle at most this long, ms (default {@linkcode DEFAULT_ABORT_GRACE_MS}). */
  abortGraceMs?: number;
  /** Clock and timers (default: the system clock). */
  clock?: Clock;
}

interface ParkedClaim {
  max: number;
  generation: number;
  controller: AbortController;
}

const FATAL_CODES = new Set(["not_leader", "shutting_down"]);

/**
 * Credit-based push delivery for one connection.
 *
 * Invariant: the sum of `max` over the claims outstanding for the current
 * subscription never exceeds the credits, and each delivered job consumes one
 * credit, so a worker never receives more jobs than it granted credits for.
 */
export class PushDispatcher {
  #backend: QueueBackend;
  #deliver: (jobs: ClaimedJob[]) => boolean;
  #onFatal?: (error: OsqueueError) => void;
  #log: (line: string) => void;
  #claimWaitMs: number;
  #maxParked: number;
  #minRetry: number;
  #maxRetry: number;
  #clock: Clock;
  #keepingUp: () => boolean;
  #congestionCheckMs: number;
  #congestionTimer?: unknown;

  #subscription?: SubscribeParams;
  #generation = 0;
  #credits = 0;
  #armed = 0;
  #claims = new Set<ParkedClaim>();
  #retryDelay: number;
  #retryTimer?: unknown;
  #closed = false;
  #abortGraceMs: number;
  /** Each claim's run, with a promise that resolves once its abort grace has passed. */
  #inflight = new Map<Promise<void>, Promise<void>>();

  /** Creates an idle dispatcher; nothing is claimed until {@linkcode PushDispatcher.subscribe}. */
  constructor(options: PushDispatcherOptions) {
    this.#backend = options.backend;
    this.#deliver = options.deliver;
    this.#onFatal = options.onFatal;
    this.#log = options.log ?? (() => {});
    this.#claimWaitMs = options.claimWaitMs ?? DEFAULT_CLAIM_WAIT_MS;
    this.#maxParked = options.maxParkedClaims ?? DEFAULT_MAX_PARKED_CLAIMS;
    this.#minRetry = options.retryDelayMs ?? 100;
    this.#maxRetry = options.maxRetryDelayMs ?? 5000;
    this.#clock = options.clock ?? systemClock;
    this.#abortGraceMs = options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS;
    this.#keepingUp = options.keepingUp ?? (() => true);
    this.#congestionCheckMs = options.congestionCheckMs ?? 100;
    this.#retryDelay = this.#minRetry;
  }

  /** Whether delivery is paused because the connection is not keeping up. */
  get paused(): boolean {
    return this.#congestionTimer !== undefined;
  }

  /** Whether a subscription is active. */
  get subscribed(): boolean {
    return this.#subscription !== undefined;
  }

  /** The active subscription's worker id and types (for operators), if subscribed. */
  get subscription(): { workerId: string; types?: readonly string[] } | undefined {
    const sub = this.#subscription;
    if (sub === undefined) return undefined;
    return sub.types === undefined
      ? { workerId: sub.workerId }
      : { workerId: sub.workerId, types: sub.types };
  }

  /** Credits granted and not yet consumed by a delivered job. */
  get credits(): number {
    return this.#credits;
  }

  /** Sum of `max` over the claims outstanding for the current subscription. */
  get armed(): number {
    return this.#armed;
  }

  /** Claims outstanding in the backend (including aborted ones not yet settled). */
  get outstandingClaims(): number {
    return this.#claims.size;
  }

  /**
   * Starts (or replaces) the subscription with `params.credits` credits.
   * Claims of a previous subscription are aborted; jobs they still return are
   * released. Call {@linkcode PushDispatcher.pump} afterwards to arm claims.
   */
  subscribe(params: SubscribeParams): void {
    if (this.#closed) throw new DisconnectedError("connection closed");
    this.#reset();
    this.#subscription = params;
    this.#credits = params.credits;
  }

  /** Adds credits; throws `bad_request` when not subscribed, `validation` above {@linkcode MAX_CREDITS}. */
  credit(credits: number): void {
    if (this.#subscription === undefined) {
      throw new BadRequestError("credit without an active subscription");
    }
    if (this.#credits + credits > MAX_CREDITS) {
      throw new ValidationError(`credits would exceed ${MAX_CREDITS}`);
    }
    this.#credits += credits;
  }

  /** Stops delivery; jobs already delivered stay leased, late arrivals are released. */
  unsubscribe(): void {
    this.#reset();
  }

  /** Stops everything for good (connection closed): aborts parked claims, clears timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reset();
  }

  /**
   * Resolves once every claim started so far has settled (and late jobs were
   * released) — or, for an aborted claim the backend does not settle, once its
   * abort grace has passed: after {@linkcode PushDispatcher.close} this
   * resolves within the abort grace (plus the releases), never waits forever.
   */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) {
      await Promise.all([...this.#inflight].map(([done, gone]) => Promise.race([done, gone])));
    }
  }

  /** Arms claims for credits not yet covered by an outstanding claim. */
  pump(): void {
    if (this.#closed || this.#subscription === undefined || this.#retryTimer !== undefined) return;
    if (this.#congestionTimer !== undefined) return;
    if (!this.#keepingUp()) {
      this.#waitForDrain();
      return;
    }
    let available = this.#credits - this.#armed;
    while (available > 0 && this.#claims.size < this.#maxParked) {
      const max = Math.min(available, LIMITS.maxClaimBatch);
      this.#start(this.#subscription, max);
      available -= max;
    }
  }

  #reset(): void {
    this.#generation++;
    this.#subscription = undefined;
    this.#credits = 0;
    this.#armed = 0;
    for (const claim of this.#claims) claim.controller.abort();
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#congestionTimer !== undefined) this.#clock.clearTimeout(this.#congestionTimer);
    this.#congestionTimer = undefined;
    this.#retryDelay = this.#minRetry;
  }

  #start(subscription: SubscribeParams, max: number): void {
    const claim: ParkedClaim = {
      max,
      generation: this.#generation,
      controller: new AbortController(),
    };
    this.#claims.add(claim);
    this.#armed += max;
    const gone = Promise.withResolvers<void>();
    let timer: unknown;
    const done: Promise<void> = this.#run(subscription, claim)
      .catch((error) => this.#log(`push claim failed: ${String(error)}`))
      .finally(() => {
        this.#inflight.delete(done);
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        claim.controller.signal.removeEventListener("abort", onAbort);
      });
    // An aborted claim is waited for at most the abort grace: a backend that
    // never settles it (or a release that hangs) must not hold up a shutdown.
    const onAbort = () => {
      timer = this.#clock.setTimeout(() => {
        timer = undefined;
        if (!this.#inflight.delete(done)) return;
        this.#log(
          `an aborted claim did not settle within ${this.#abortGraceMs} ms; no longer waiting` +
            " (jobs it still returns are released)",
        );
        gone.resolve();
      }, this.#abortGraceMs);
    };
    claim.controller.signal.addEventListener("abort", onAbort, { once: true });
    this.#inflight.set(done, gone.promise);
  }

  async #run(subscription: SubscribeParams, claim: ParkedClaim): Promise<void> {
    const started = this.#clock.now();
    let jobs: ClaimedJob[] = [];
    let failure: unknown;
    try {
      const reply = await this.#backend.request({
        op: "claim",
        workerId: subscription.workerId,
        max: claim.max,
        waitMs: this.#claimWaitMs,
        ...(subscription.types === undefined ? {} : { types: subscription.types }),
        ...(subscription.leaseMs === undefined ? {} : { leaseMs: subscription.leaseMs }),
      }, { signal: claim.controller.signal, validated: true });
      jobs = reply.jobs;
    } catch (error) {
      failure = error;
    }
    this.#claims.delete(claim);
    const current = !this.#closed && claim.generation === this.#generation;
    if (current) this.#armed -= claim.max;

    if (jobs.length > 0) {
      // Defensive: never hand out more than the claim asked for or the credits left,
      // and nothing to a connection that is not reading what it was sent.
      const take = current && this.#keepingUp()
        ? Math.min(jobs.length, claim.max, this.#credits)
        : 0;
      const delivered = jobs.slice(0, take);
      const extra = jobs.slice(take);
      if (delivered.length > 0) {
        this.#credits -= delivered.length;
        if (!this.#deliver(delivered)) extra.push(...delivered);
      }
      if (extra.length > 0) {
        await releaseJobs({ backend: this.#backend, jobs: extra, log: this.#log });
      }
    }
    if (!current) return;

    if (failure !== undefined) {
      if (claim.controller.signal.aborted) return;
      if (failure instanceof OsqueueError && FATAL_CODES.has(failure.code)) {
        this.#log(`push delivery stopped: ${failure.code}: ${failure.message}`);
        this.#onFatal?.(failure);
        return;
      }
      this.#log(
        `push claim failed, retrying in ${this.#retryDelay} ms: ${
          failure instanceof Error ? failure.message : failure
        }`,
      );
      this.#retryLater();
      return;
    }
    if (jobs.length === 0 && this.#clock.now() - started < this.#claimWaitMs / 2) {
      // An empty reply long before the wait ran out: do not spin on a backend
      // that does not park claims.
      this.#retryLater();
      return;
    }
    this.#retryDelay = this.#minRetry;
    this.pump();
  }

  /** Polls until the connection keeps up again, then pumps (there is no drain event). */
  #waitForDrain(): void {
    if (this.#congestionTimer !== undefined) return;
    this.#log("delivery paused: the connection is not reading what it was sent");
    const check = () => {
      this.#congestionTimer = undefined;
      if (this.#closed || this.#subscription === undefined) return;
      if (this.#keepingUp()) {
        this.#log("delivery resumed");
        this.pump();
      } else {
        this.#congestionTimer = this.#clock.setTimeout(check, this.#congestionCheckMs);
      }
    };
    this.#congestionTimer = this.#clock.setTimeout(check, this.#congestionCheckMs);
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.#maxRetry);
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.pump();
    }, delay);
  }
}
