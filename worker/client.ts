/**
 * {@linkcode OsqueueClient}: a WebSocket client for an osqueue broker, built on
 * web-standard APIs only (`WebSocket`, `setTimeout`, `AbortController`), so it
 * runs unchanged in browsers, Deno, Deno Deploy, Node and Bun.
 *
 * The client connects lazily on the first request, says `hello` (with the
 * token, if any) first, correlates replies by id, rebuilds error replies as
 * typed {@linkcode OsqueueError}s and follows `not_leader` redirects.
 *
 * **Reconnects.** When the socket drops, every request still waiting for its
 * reply fails with code `disconnected` and is NOT resent: the broker may or
 * may not have applied it (a `push` may have landed, a `complete` may have
 * committed). Retry such requests yourself when that is safe — a `push` with an
 * `idempotencyKey` is always safe to retry; `complete`/`fail`/`release` answer
 * `lease_lost` when they already landed. The next request reconnects (with
 * exponential backoff and jitter between failed attempts); an active
 * subscription reconnects in the background and re-subscribes with the credits
 * it still has. A `not_leader` reply carrying `data.leaderUrl` makes the client
 * switch to that URL and retry that request once (a `not_leader` request was
 * not applied, so the retry is safe); a `shutting_down` reply (not applied
 * either) makes it leave that broker and retry once on the next URL.
 *
 * **Liveness.** Give every broker: `connectClient({urls: [a, b]})`. A `ping`
 * keepalive (`keepaliveMs`, `keepaliveTimeoutMs`) drops a connection whose
 * broker stopped answering (frozen, black-holed) at once, failing its waiting
 * requests with `disconnected`; connecting is bounded by `connectTimeoutMs`;
 * on either the client moves on to the next URL, and does not follow hints
 * back to a broker that stopped answering until a connection succeeds.
 *
 * **Where the parts live.** `client_setup.ts` (options and their defaults) ·
 * `connection.ts` (one socket: ids, replies, notifications) ·
 * `broker_urls.ts` (the URL list and the brokers that stopped answering) ·
 * `connection_manager.ts` (connect, redirects, background reconnects) with
 * `greeting.ts` (hello, leader hints) and `reconnect_backoff.ts` ·
 * `keepalive.ts` · `requests.ts` (deadlines, one redirect or move-on per
 * request) · `deliveries.ts` (subscription, credits, watch) ·
 * `heartbeat_loop.ts` (the lease-keeping policy the `Worker` shares).
 *
 * @example Push a job and read it back
 * ```ts ignore
 * import { connectClient } from "@osqueue/osqueue/worker";
 *
 * const client = connectClient({
 *   urls: ["http://broker-a:8080", "http://broker-b:8080"],
 *   token: "secret",
 * });
 * const { jobs } = await client.push({ type: "email:send", payload: { to: "a@b.c" } });
 * const { job } = await client.get(jobs[0].id);
 * console.log(job.state);
 * await client.close();
 * ```
 *
 * @module
 */
import type { JobEvent } from "../protocol/backend.ts";
import type {
  JsonValue,
  Operation,
  OperationResult,
  OperationResults,
  PushJob,
  ScheduleOperation,
  TypeLimit,
} from "../protocol/operations.ts";
import type { SubscribeParams, WatchParams } from "../protocol/wire.ts";
import type { BrokerUrls } from "./broker_urls.ts";
import type {
  ClaimOptions,
  ClientOptions,
  DeliveryHandler,
  FailOptions,
  Timers,
} from "./client_options.ts";
import { resolveClientOptions } from "./client_setup.ts";
import { ConnectionManager } from "./connection_manager.ts";
import { Deliveries } from "./deliveries.ts";
import { Requests } from "./requests.ts";
import { type HeartbeatLoopOptions, startHeartbeatLoop } from "./heartbeat_loop.ts";
import { JobHandle } from "./job_handle.ts";

/**
 * A client of one osqueue broker (following leader redirects) over
 * WebSocket. See the module documentation for reconnect semantics.
 */
export class OsqueueClient {
  readonly #urls: BrokerUrls;
  readonly #connections: ConnectionManager;
  readonly #requests: Requests;
  readonly #deliveries: Deliveries;
  readonly #requestTimeoutMs: number;
  readonly #timers: Timers;
  readonly #clock: () => number;
  readonly #heartbeats = new Set<() => void>();

  /** Creates a client (`InvalidError` on bad options); it connects on the first request. */
  constructor(options: ClientOptions) {
    const resolved = resolveClientOptions(options);
    const { requestTimeoutMs, timers } = resolved;
    this.#timers = timers;
    this.#clock = resolved.clock;
    this.#urls = resolved.urls;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#requests = new Requests({ timers, requestTimeoutMs });
    this.#deliveries = new Deliveries({
      requestTimeoutMs,
      release: (job) => this.release(job.id, job.leaseToken),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    this.#connections = new ConnectionManager({
      ...resolved,
      events: this.#deliveries,
      requests: this.#requests,
    });
    this.#requests.attach(this.#connections);
    this.#deliveries.attach(this.#connections, this.#requests);
  }

  /** The broker base URL requests go to now (changes when following a leader redirect). */
  get url(): string {
    return this.#urls.current;
  }

  /** Whether a greeted connection is open now. */
  get connected(): boolean {
    return this.#connections.connected;
  }

  // -------------------------------------------------------------------------
  // Queue operations.

  /** Sends any queue {@linkcode Operation} and resolves with its typed reply. */
  request<O extends Operation>(operation: O): Promise<OperationResult<O>> {
    const { op, ...params } = operation;
    const extra = operation.op === "claim" ? operation.waitMs ?? 0 : 0;
    return this.#requests.request(op, params, { extraTimeoutMs: extra }) as Promise<
      OperationResult<O>
    >;
  }

  /** Enqueues one job or a batch; one `{id, duplicate}` per job, in order. */
  push(jobs: PushJob | PushJob[]): Promise<OperationResults["push"]> {
    return this.request({ op: "push", jobs: Array.isArray(jobs) ? jobs : [jobs] });
  }

  /**
   * Pushes one job and returns a {@linkcode JobHandle}: `await
   * (await client.submit(job)).result({timeoutMs})` resolves with the
   * handler's result, or rejects with a `JobFailedError` or `TimeoutError`.
   */
  async submit(job: PushJob): Promise<JobHandle> {
    const [pushed] = (await this.push(job)).jobs;
    return new JobHandle(pushed.id, pushed.duplicate, {
      get: (jobId) => this.get(jobId),
      timers: this.#timers,
      now: () => Date.now(),
    });
  }

  /** Leases up to `max` ready jobs (long-polling up to `waitMs`). */
  claim(options: ClaimOptions): Promise<OperationResults["claim"]> {
    return this.request({ op: "claim", ...options });
  }

  /** Extends a lease by `leaseMs` from now (the broker's default when absent). */
  heartbeat(
    jobId: string,
    leaseToken: string,
    leaseMs?: number,
  ): Promise<OperationResults["heartbeat"]> {
    return this.request(
      leaseMs === undefined
        ? { op: "heartbeat", jobId, leaseToken }
        : { op: "heartbeat", jobId, leaseToken, leaseMs },
    );
  }

  /**
   * Heartbeats a lease every `intervalMs` (or, without it, at a third of the
   * time the granted lease has left) until the returned function is called.
   * On `lease_lost`/`job_not_found` (or when no heartbeat succeeded for
   * `leaseMs`, or without `leaseMs` before the known `leaseExpiresAt`) it
   * calls `onLost` once and stops; other failures go to `onError` and the
   * loop keeps trying.
   */
  startHeartbeat(jobId: string, leaseToken: string, options: HeartbeatLoopOptions): () => void {
    const { leaseMs } = options;
    const params = leaseMs === undefined ? { jobId, leaseToken } : { jobId, leaseToken, leaseMs };
    const stop: () => void = startHeartbeatLoop({
      jobId,
      loop: options,
      beat: (timeoutMs) =>
        this.#requests.request("heartbeat", params, {
          timeoutMs: Math.min(this.#requestTimeoutMs, timeoutMs),
        }),
      clock: this.#clock,
      timers: this.#timers,
      closed: () => this.#connections.closed,
      onStop: () => this.#heartbeats.delete(stop),
    });
    if (!this.#connections.closed) this.#heartbeats.add(stop);
    return stop;
  }

  /** Finishes a job successfully, with an optional JSON result. */
  complete(
    jobId: string,
    leaseToken: string,
    result?: JsonValue,
  ): Promise<OperationResults["complete"]> {
    return this.request(
      result === undefined
        ? { op: "complete", jobId, leaseToken }
        : { op: "complete", jobId, leaseToken, result },
    );
  }

  /** Reports a failed attempt: the job is retried with backoff, or dead-lettered with `retry: false`. */
  fail(
    jobId: string,
    leaseToken: string,
    error: string,
    options: FailOptions = {},
  ): Promise<OperationResults["fail"]> {
    return this.request(
      options.retry === undefined
        ? { op: "fail", jobId, leaseToken, error }
        : { op: "fail", jobId, leaseToken, error, retry: options.retry },
    );
  }

  /** Stores a running job's progress (small JSON, at most 1 KB), shown by `get`. */
  progress(
    jobId: string,
    leaseToken: string,
    value: JsonValue,
  ): Promise<OperationResults["progress"]> {
    return this.request({ op: "progress", jobId, leaseToken, value });
  }

  /** Gives a job back unstarted: ready again at once, the attempt not counted. */
  release(jobId: string, leaseToken: string): Promise<OperationResults["release"]> {
    return this.request({ op: "release", jobId, leaseToken });
  }

  /** Cancels a ready, delayed or active job. */
  cancel(jobId: string): Promise<OperationResults["cancel"]> {
    return this.request({ op: "cancel", jobId });
  }

  /** Reads a job's record. */
  get(jobId: string): Promise<OperationResults["get"]> {
    return this.request({ op: "get", jobId });
  }

  /** Reads the queue's counters. */
  stats(): Promise<OperationResults["stats"]> {
    return this.request({ op: "stats" });
  }

  /** Stops handing out jobs of `types` (admin); pushes are still accepted. Replies with every paused type. */
  pause(types: string[]): Promise<OperationResults["pause"]> {
    return this.request({ op: "pause", types });
  }

  /** Hands out jobs of `types` again (admin). Replies with every type still paused. */
  resume(types: string[]): Promise<OperationResults["resume"]> {
    return this.request({ op: "resume", types });
  }

  /** Creates or replaces the schedule `name` (admin): `job` is pushed at each due time. */
  schedule(
    name: string,
    spec: Omit<ScheduleOperation, "op" | "name">,
  ): Promise<OperationResults["schedule"]> {
    return this.request({ op: "schedule", name, ...spec });
  }

  /** Removes the schedule `name` (admin). */
  unschedule(name: string): Promise<OperationResults["unschedule"]> {
    return this.request({ op: "unschedule", name });
  }

  /** Lists the schedules with their next run times (admin). */
  schedules(): Promise<OperationResults["schedules"]> {
    return this.request({ op: "schedules" });
  }

  /** Sets (or, with no limit given, removes) a type's rate and concurrency limits (admin). */
  limit(type: string, limit: TypeLimit = {}): Promise<OperationResults["limit"]> {
    return this.request({ op: "limit", type, ...limit });
  }

  // -------------------------------------------------------------------------
  // Push delivery.

  /**
   * Subscribes to push delivery: the broker sends jobs to `onJobs`, never more
   * than the credits granted (`credits` now, plus every {@linkcode credit}).
   * The subscription survives reconnects (re-subscribing with the credits not
   * yet used) until {@linkcode unsubscribe} or {@linkcode close}. One
   * subscription per client; subscribing again replaces it.
   */
  subscribe(params: SubscribeParams, onJobs: DeliveryHandler): Promise<void> {
    return this.#deliveries.subscribe(params, onJobs);
  }

  /**
   * Grants `credits` more deliveries (one per finished job). Credits granted
   * together (before the pending promise callbacks have run) travel in one
   * `credit` frame, sent right behind the calls made meanwhile (a worker's
   * `complete`), so the broker commits the next claim with them. When not
   * connected the credits are kept and sent with the next re-subscribe.
   */
  credit(credits: number): Promise<void> {
    return this.#deliveries.credit(credits);
  }

  /**
   * Watches job events: `onEvent` is called for every job of `filter.ids` or
   * `filter.types` (every job when both are absent) that completes, fails an
   * attempt, dies, is cancelled or reports progress, once the broker's commit
   * has landed. The watch moves with the client to the next broker after a
   * reconnect (events committed while disconnected are not replayed). One
   * watch per client: a new one replaces it.
   */
  watch(filter: WatchParams, onEvent: (event: JobEvent) => void): Promise<void> {
    return this.#deliveries.watch(filter, onEvent);
  }

  /** Stops the watch started by {@linkcode OsqueueClient.watch}. */
  unwatch(): Promise<void> {
    return this.#deliveries.unwatch();
  }

  /**
   * Stops push delivery. Jobs already sent stay leased; deliveries still in
   * flight go to the last handler.
   */
  unsubscribe(): Promise<void> {
    return this.#deliveries.unsubscribe();
  }

  /** Credits granted and not yet used by a delivery, as this client counts them. */
  get credits(): number {
    return this.#deliveries.credits;
  }

  /**
   * Closes the client: stops reconnecting and heartbeating, fails waiting
   * requests with `disconnected`, closes the socket. Later calls fail.
   */
  async close(): Promise<void> {
    if (this.#connections.closed) return;
    const closing = this.#connections.close();
    this.#deliveries.deactivate();
    for (const stop of [...this.#heartbeats]) stop();
    await closing;
  }
}

/** Creates an {@linkcode OsqueueClient} (it connects on the first request). */
export function connectClient(options: ClientOptions): OsqueueClient {
  return new OsqueueClient(options);
}
