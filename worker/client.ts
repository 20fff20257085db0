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
import {
  errorFromWire,
  InvalidError,
  JobNotFoundError,
  LeaseLostError,
  NotLeaderError,
  OsqueueError,
  ShuttingDownError,
  TimeoutError,
  UnavailableError,
  type WireError,
} from "../errors.ts";
import type {
  ClaimedJob,
  JsonValue,
  Operation,
  OperationResult,
  OperationResults,
  PushJob,
  ScheduleOperation,
  TypeLimit,
} from "../protocol/operations.ts";
import { JobHandle } from "./job_handle.ts";
import {
  type HelloParams,
  type HelloResult,
  PROTOCOL_VERSION,
  type SubscribeParams,
  type WatchParams,
} from "../protocol/wire.ts";
import type { JobEvent } from "../protocol/backend.ts";

/** Timer functions, injectable so tests (or odd runtimes) control time. */
export interface Timers {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@linkcode Timers.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer started with {@linkcode Timers.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** The platform's timers. */
export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** How the client spaces reconnect attempts: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** Delay before the first retry, ms (default 100). Doubles per consecutive failure. */
  minDelayMs?: number;
  /** Largest delay between attempts, ms (default 5000). */
  maxDelayMs?: number;
  /** Random source in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
}

/** A `WebSocket` constructor (the global one by default). */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of {@linkcode OsqueueClient}: give `url` or `urls` (or both). */
export interface ClientOptions {
  /** Base URL of a broker, `http(s)://` or `ws(s)://`; the client connects to `${url}/ws`. */
  url?: string;
  /**
   * Base URLs of every broker of the queue (leader and standbys). The client
   * starts with the first (after `url`, when both are given) and, when a
   * broker cannot be reached or stops answering, tries the next in turn.
   */
  urls?: string[];
  /** Bearer token sent in `hello`. */
  token?: string;
  /** Free-form name sent in `hello`, shown in broker logs. */
  clientId?: string;
  /** How long a request may wait for its reply (and for a connection), ms (default 30 000). */
  requestTimeoutMs?: number;
  /**
   * How long opening a WebSocket and its `hello` may take before the client
   * gives up on that broker and tries the next URL, ms (default
   * {@linkcode DEFAULT_CONNECT_TIMEOUT_MS}, at most `requestTimeoutMs`).
   */
  connectTimeoutMs?: number;
  /**
   * Keepalive: when nothing has arrived on the connection for this long, the
   * client sends a `ping` request, ms (default {@linkcode DEFAULT_KEEPALIVE_MS};
   * 0 turns keepalive off). Browsers cannot send WebSocket ping frames, so
   * this is an application-level ping.
   */
  keepaliveMs?: number;
  /**
   * A `ping` not answered within this long — or any request timing out while
   * nothing has arrived for this long — drops the connection: requests waiting
   * on it fail with `disconnected` and the client reconnects, trying the next
   * URL, ms (default {@linkcode DEFAULT_KEEPALIVE_TIMEOUT_MS}).
   */
  keepaliveTimeoutMs?: number;
  /** Reconnect backoff. */
  reconnect?: ReconnectOptions;
  /** Most `leaderUrl` hops followed while connecting (default 3). */
  maxRedirects?: number;
  /** `WebSocket` constructor to use (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Timer functions (default the platform's). */
  timers?: Timers;
  /** Current time in epoch ms (default `Date.now`); used to tell when a lease ran out. */
  clock?: () => number;
  /**
   * Called with errors nobody awaits: failed background reconnects and
   * re-subscribes, deliveries nobody handles.
   */
  onError?: (error: OsqueueError) => void;
}

/** Options of {@linkcode OsqueueClient.fail}. */
export interface FailOptions {
  /** `false` dead-letters the job at once, whatever attempts remain (default true). */
  retry?: boolean;
}

/** Options of {@linkcode OsqueueClient.claim}. */
export interface ClaimOptions {
  /** The lease holder's name. */
  workerId: string;
  /** Only these job types (all when absent). */
  types?: string[];
  /** At most this many jobs (default 1). */
  max?: number;
  /** Lease duration, ms. */
  leaseMs?: number;
  /** Long-poll up to this many ms when no job is ready; extends the request timeout. */
  waitMs?: number;
}

/** Options of {@linkcode OsqueueClient.startHeartbeat}. */
export interface HeartbeatLoopOptions {
  /**
   * Time between heartbeats, ms. When absent, a third of the time the lease
   * has left by the broker's `leaseExpiresAt` — the first from
   * {@linkcode HeartbeatLoopOptions.leaseExpiresAt}, then from each heartbeat
   * reply — so the loop follows the lease the broker actually granted
   * (at least {@linkcode MIN_HEARTBEAT_INTERVAL_MS}; assumes clocks roughly in sync).
   */
  intervalMs?: number;
  /**
   * When the lease runs out, epoch ms (`leaseExpiresAt` of the claimed job).
   * Needed when `intervalMs` is absent; with no `leaseMs`, the lease counts as
   * lost once this passes without a successful heartbeat.
   */
  leaseExpiresAt?: number;
  /** Lease duration each heartbeat asks for, ms (the broker's default when absent). */
  leaseMs?: number;
  /**
   * Called once when the lease is lost (a `lease_lost` or `job_not_found`
   * reply, or no successful heartbeat for `leaseMs`); the loop then stops.
   */
  onLost: (error: OsqueueError) => void;
  /** Called with transient heartbeat failures (the loop keeps going). */
  onError?: (error: OsqueueError) => void;
}

/** Receives jobs pushed to a subscription. */
export type DeliveryHandler = (jobs: ClaimedJob[]) => void;

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: OsqueueError) => void;
}

interface Subscription {
  workerId: string;
  types?: string[];
  leaseMs?: number;
  onJobs: DeliveryHandler;
  /** Whether the client should keep the subscription alive across reconnects. */
  active: boolean;
  /** The connection the last `subscribe` frame went out on. */
  conn?: Connection;
}

interface Deadline {
  promise: Promise<never>;
  clear(): void;
}

/** Shortest time between heartbeats when the interval follows the granted lease, ms. */
export const MIN_HEARTBEAT_INTERVAL_MS = 100;

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Default {@linkcode ClientOptions.connectTimeoutMs}, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Default {@linkcode ClientOptions.keepaliveMs}, ms. */
export const DEFAULT_KEEPALIVE_MS = 2_000;

/** Default {@linkcode ClientOptions.keepaliveTimeoutMs}, ms. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 3_000;
const DEFAULT_MIN_DELAY_MS = 100;
const DEFAULT_MAX_DELAY_MS = 5_000;
const CLOSE_WAIT_MS = 1_000;
/** Longest wait before asking a standby again while the leader it names does not answer, ms. */
const STANDBY_RETRY_MS = 500;

const closedError = () => new OsqueueError("disconnected", "client closed");

/** Close code the client reports for a connection it gave up on (never sent on the wire). */
const CLOSE_ABANDONED = 4999;

function toOsqueueError(error: unknown): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new OsqueueError("internal", message, { cause: error });
}

function isWireError(value: unknown): value is WireError {
  return typeof value === "object" && value !== null &&
    typeof (value as WireError).code === "string" &&
    typeof (value as WireError).message === "string";
}

/**
 * Turns a broker base URL (`http(s)://host[:port][/prefix]` or `ws(s)://…`)
 * into its WebSocket endpoint `ws(s)://host[:port][/prefix]/ws`.
 */
export function websocketUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (error) {
    throw new InvalidError(`invalid broker URL: ${baseUrl}`, { cause: error });
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new InvalidError(`unsupported broker URL scheme: ${url.protocol}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/ws") ? path : `${path}/ws`;
  url.hash = "";
  return url.toString();
}

/** One open, greeted WebSocket and the requests waiting on it. */
class Connection {
  readonly pending = new Map<number, Pending>();
  closed = false;
  /** When a frame last arrived (client clock). */
  lastReceived: number;
  /** The keepalive timer, while one is scheduled. */
  keepalive?: unknown;
  #retiring = false;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  readonly #onClose: (conn: Connection, code: number, reason: string) => void;

  constructor(
    readonly ws: WebSocket,
    readonly url: string,
    readonly clock: () => number,
    onNotification: (conn: Connection, method: string, params: unknown) => void,
    onClose: (conn: Connection, code: number, reason: string) => void,
    readonly timers: Timers = defaultTimers,
  ) {
    this.lastReceived = clock();
    this.#onClose = onClose;
    ws.addEventListener("message", (event) => {
      this.lastReceived = clock();
      // Nothing a broker (or whatever answers on this URL) sends may crash the
      // client: a frame that cannot be handled is dropped.
      try {
        this.#handleFrame(event.data, onNotification);
      } catch {
        // dropped
      }
    });
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    ws.addEventListener("close", (event) => this.#finish(event.code, event.reason ?? ""));
  }

  /** Marks the connection closed (once): fails waiting requests, reports the close. */
  #finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(
        new OsqueueError(
          "disconnected",
          `connection to ${this.url} lost before ${pending.method} was answered` +
            (code === CLOSE_ABANDONED ? ` (${reason})` : ""),
        ),
      );
    }
    this.#onClose(this, code, reason);
    this.#resolveClosed();
  }

  /**
   * Gives the connection up at once, without waiting for a closing handshake
   * a frozen peer would never answer: waiting requests fail with
   * `disconnected` now, and the socket is closed in the background.
   */
  abandon(reason: string): void {
    try {
      this.ws.close(1000, "client gave up on this connection");
    } catch {
      // already closing
    }
    this.#finish(CLOSE_ABANDONED, reason);
  }

  /** Sends a request; its promise settles with the reply. */
  call(id: number, method: string, params: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.ws.readyState !== 1 /* OPEN */) {
        reject(new OsqueueError("disconnected", `connection to ${this.url} is closed`));
        return;
      }
      this.pending.set(id, { method, resolve, reject });
      try {
        this.ws.send(
          JSON.stringify(params === undefined ? { id, method } : { id, method, params }),
        );
      } catch (error) {
        this.pending.delete(id);
        reject(new OsqueueError("disconnected", `cannot send ${method}`, { cause: error }));
      }
    });
  }

  /** Stops waiting for a reply (after a timeout). */
  forget(id: number): void {
    this.pending.delete(id);
    this.#maybeFinishRetire();
  }

  /** Closes the socket once no request waits on it any more. */
  retire(): void {
    this.#retiring = true;
    this.#maybeFinishRetire();
  }

  #handleFrame(
    data: unknown,
    onNotification: (conn: Connection, method: string, params: unknown) => void,
  ): void {
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof frame !== "object" || frame === null) return;
    const { id, method, params, result, error } = frame as Record<string, unknown>;
    if (typeof id === "number") {
      const pending = this.pending.get(id);
      if (pending === undefined) return;
      this.pending.delete(id);
      if (isWireError(error)) pending.reject(errorFromWire(error));
      else pending.resolve(result);
      this.#maybeFinishRetire();
    } else if ((id === undefined || id === null) && typeof method === "string") {
      onNotification(this, method, params);
    }
  }

  #maybeFinishRetire(): void {
    if (this.#retiring && this.pending.size === 0) this.close(this.timers);
  }

  /** Closes the socket; resolves once it is closed (or after a short wait). */
  close(timers: Timers = defaultTimers): Promise<void> {
    if (!this.closed) {
      try {
        this.ws.close(1000, "client closing");
      } catch {
        // already closing
      }
    }
    let handle: unknown;
    const timeout = new Promise<void>((resolve) => {
      handle = timers.setTimeout(resolve, CLOSE_WAIT_MS);
    });
    return Promise.race([this.#closedPromise, timeout]).finally(() => timers.clearTimeout(handle));
  }
}

/**
 * A client of one osqueue broker (following leader redirects) over
 * WebSocket. See the module documentation for reconnect semantics.
 */
export class OsqueueClient {
  #baseUrl: string;
  /** Every URL the client was given, tried in turn. */
  readonly #urls: string[];
  /** Index in `#urls` of the URL tried last. */
  #urlIndex = 0;
  /**
   * WebSocket URLs that stopped answering, with when: for `#suspectMs` after
   * that (or until a good connection) hints to them are not followed and the
   * other URLs are tried first.
   */
  readonly #suspects = new Map<string, number>();
  readonly #suspectMs: number;
  /** Failed connection attempts since the client last backed off. */
  #roundFailures = 0;
  readonly #token?: string;
  readonly #clientId?: string;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #keepaliveMs: number;
  readonly #keepaliveTimeoutMs: number;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #random: () => number;
  readonly #maxRedirects: number;
  readonly #WebSocket: WebSocketConstructor;
  readonly #timers: Timers;
  readonly #clock: () => number;
  readonly #onError?: (error: OsqueueError) => void;

  #nextId = 1;
  #current?: Connection;
  #connecting?: Promise<Connection>;
  #opening?: WebSocket;
  #waiting = 0;
  #failures = 0;
  #lastConnectError?: OsqueueError;
  #closed = false;
  #sleep?: { handle: unknown; resolve: () => void };
  #subscription?: Subscription;
  #credits = 0;
  #watch: { params: WatchParams; onEvent: (event: JobEvent) => void } | undefined;
  /** Credits granted since the last `credit` frame, sent together at the end of this turn. */
  #unsentCredits = 0;
  #creditFlush: Promise<void> | undefined;
  readonly #heartbeats = new Set<() => void>();
  readonly #connections = new Set<Connection>();

  /** Creates a client; it connects on the first request. */
  constructor(options: ClientOptions) {
    const urls = [...(options.url === undefined ? [] : [options.url]), ...(options.urls ?? [])];
    if (urls.length === 0) throw new InvalidError("a client needs a broker url (or urls)");
    for (const url of urls) websocketUrl(url); // validate early
    this.#urls = urls.filter((url, i) =>
      urls.findIndex((other) => websocketUrl(other) === websocketUrl(url)) === i
    );
    this.#baseUrl = this.#urls[0];
    this.#token = options.token;
    this.#clientId = options.clientId;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#connectTimeoutMs = Math.min(
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      this.#requestTimeoutMs,
    );
    this.#keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.#keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.#suspectMs = this.#connectTimeoutMs + this.#keepaliveMs + this.#keepaliveTimeoutMs;
    for (
      const [name, value] of [
        ["requestTimeoutMs", this.#requestTimeoutMs],
        ["connectTimeoutMs", this.#connectTimeoutMs],
        ["keepaliveMs", this.#keepaliveMs],
        ["keepaliveTimeoutMs", this.#keepaliveTimeoutMs],
      ] as const
    ) {
      if (!(value >= 0) || !Number.isFinite(value)) {
        throw new InvalidError(`${name} must be a finite number ≥ 0, got ${value}`);
      }
    }
    this.#minDelayMs = options.reconnect?.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
    this.#maxDelayMs = Math.max(
      this.#minDelayMs,
      options.reconnect?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    );
    this.#random = options.reconnect?.random ?? Math.random;
    this.#maxRedirects = options.maxRedirects ?? 3;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#timers = options.timers ?? defaultTimers;
    this.#clock = options.clock ?? Date.now;
    this.#onError = options.onError;
  }

  /** The broker base URL requests go to now (changes when following a leader redirect). */
  get url(): string {
    return this.#baseUrl;
  }

  /** Whether a greeted connection is open now. */
  get connected(): boolean {
    return this.#current !== undefined && !this.#current.closed;
  }

  // -------------------------------------------------------------------------
  // Queue operations.

  /** Sends any queue {@linkcode Operation} and resolves with its typed reply. */
  request<O extends Operation>(operation: O): Promise<OperationResult<O>> {
    const { op, ...params } = operation;
    const extra = operation.op === "claim" ? operation.waitMs ?? 0 : 0;
    return this.#call(op, params, { extraTimeoutMs: extra }) as Promise<OperationResult<O>>;
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
    const { leaseMs, onLost, onError } = options;
    if (options.intervalMs === undefined && options.leaseExpiresAt === undefined) {
      throw new InvalidError("startHeartbeat needs intervalMs or leaseExpiresAt");
    }
    let expiresAt = options.leaseExpiresAt;
    const nextInterval = (): number =>
      options.intervalMs ??
        Math.max(MIN_HEARTBEAT_INTERVAL_MS, Math.floor((expiresAt! - this.#clock()) / 3));
    let intervalMs = nextInterval();
    let stopped = false;
    let handle: unknown;
    let lastOk = this.#clock();
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (handle !== undefined) this.#timers.clearTimeout(handle);
      handle = undefined;
      this.#heartbeats.delete(stop);
    };
    const lost = (error: OsqueueError) => {
      stop();
      onLost(error);
    };
    const tick = async () => {
      handle = undefined;
      if (stopped) return;
      const params = leaseMs === undefined ? { jobId, leaseToken } : { jobId, leaseToken, leaseMs };
      try {
        const reply = await this.#call("heartbeat", params, {
          timeoutMs: Math.min(this.#requestTimeoutMs, Math.max(intervalMs, 1)),
        }) as { leaseExpiresAt?: unknown } | null;
        lastOk = this.#clock();
        if (typeof reply?.leaseExpiresAt === "number") expiresAt = reply.leaseExpiresAt;
      } catch (caught) {
        if (stopped) return;
        const error = toOsqueueError(caught);
        if (error instanceof LeaseLostError || error instanceof JobNotFoundError) {
          return lost(error);
        }
        if (error.code === "disconnected" && this.#closed) return stop();
        if (leaseMs !== undefined && this.#clock() - lastOk >= leaseMs) {
          return lost(
            new LeaseLostError(
              `lease of job ${jobId} ran out: no successful heartbeat for ${leaseMs} ms`,
              { cause: error },
            ),
          );
        }
        if (leaseMs === undefined && expiresAt !== undefined && this.#clock() >= expiresAt) {
          return lost(
            new LeaseLostError(`lease of job ${jobId} ran out at ${expiresAt}`, { cause: error }),
          );
        }
        onError?.(error);
      }
      intervalMs = nextInterval();
      if (!stopped) handle = this.#timers.setTimeout(tick, intervalMs);
    };
    if (this.#closed) {
      stopped = true;
      return stop;
    }
    this.#heartbeats.add(stop);
    handle = this.#timers.setTimeout(tick, intervalMs);
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
  async subscribe(params: SubscribeParams, onJobs: DeliveryHandler): Promise<void> {
    if (this.#closed) throw closedError();
    const subscription: Subscription = {
      workerId: params.workerId,
      onJobs,
      active: true,
    };
    if (params.types !== undefined) subscription.types = params.types;
    if (params.leaseMs !== undefined) subscription.leaseMs = params.leaseMs;
    this.#subscription = subscription;
    this.#credits = params.credits;
    try {
      await this.#call("subscribe", () => this.#subscribeParams(subscription), {
        onSend: (conn) => subscription.conn = conn,
      });
    } catch (error) {
      subscription.active = false;
      throw error;
    }
  }

  /**
   * Grants `credits` more deliveries (one per finished job). Credits granted
   * in the same turn of the event loop travel in one `credit` frame (a worker
   * finishing a delivered batch returns its credits at once). When not
   * connected the credits are kept and sent with the next re-subscribe.
   */
  credit(credits: number): Promise<void> {
    if (credits <= 0) return Promise.resolve();
    this.#credits += credits;
    this.#unsentCredits += credits;
    this.#creditFlush ??= new Promise<void>((resolve, reject) => {
      this.#timers.setTimeout(() => {
        const batch = this.#unsentCredits;
        this.#unsentCredits = 0;
        this.#creditFlush = undefined;
        this.#sendCredits(batch).then(resolve, reject);
      }, 0);
    });
    return this.#creditFlush;
  }

  async #sendCredits(credits: number): Promise<void> {
    const subscription = this.#subscription;
    const conn = this.#current;
    if (
      credits <= 0 || subscription === undefined || !subscription.active || conn === undefined ||
      conn.closed || subscription.conn !== conn
    ) return;
    try {
      await this.#callOn(conn, "credit", { credits }, this.#requestTimeoutMs);
    } catch (error) {
      // A lost connection re-subscribes with the remaining credits, these included.
      if (error instanceof OsqueueError && error.code === "disconnected") return;
      throw error;
    }
  }

  /**
   * Watches job events: `onEvent` is called for every job of `filter.ids` or
   * `filter.types` (every job when both are absent) that completes, fails an
   * attempt, dies, is cancelled or reports progress, once the broker's commit
   * has landed. The watch moves with the client to the next broker after a
   * reconnect (events committed while disconnected are not replayed). One
   * watch per client: a new one replaces it.
   */
  async watch(filter: WatchParams, onEvent: (event: JobEvent) => void): Promise<void> {
    this.#watch = { params: { ...filter }, onEvent };
    await this.#call("watch", { ...filter });
  }

  /** Stops the watch started by {@linkcode OsqueueClient.watch}. */
  async unwatch(): Promise<void> {
    if (this.#watch === undefined) return;
    this.#watch = undefined;
    const conn = this.#current;
    if (conn === undefined || conn.closed) return;
    await this.#callOn(conn, "unwatch", undefined, this.#requestTimeoutMs).catch(() => {});
  }

  /**
   * Stops push delivery. Jobs already sent stay leased; deliveries still in
   * flight go to the last handler.
   */
  async unsubscribe(): Promise<void> {
    const subscription = this.#subscription;
    if (subscription === undefined || !subscription.active) return;
    subscription.active = false;
    const conn = this.#current;
    if (conn === undefined || conn.closed || subscription.conn !== conn) return;
    try {
      await this.#callOn(conn, "unsubscribe", {}, this.#requestTimeoutMs);
    } catch (error) {
      // A closed connection has no subscription left.
      if (error instanceof OsqueueError && error.code === "disconnected") return;
      throw error;
    }
  }

  /** Credits granted and not yet used by a delivery, as this client counts them. */
  get credits(): number {
    return this.#credits;
  }

  /**
   * Closes the client: stops reconnecting and heartbeating, fails waiting
   * requests with `disconnected`, closes the socket. Later calls fail.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#subscription !== undefined) this.#subscription.active = false;
    for (const stop of [...this.#heartbeats]) stop();
    if (this.#sleep !== undefined) {
      this.#timers.clearTimeout(this.#sleep.handle);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    try {
      this.#opening?.close();
    } catch {
      // still connecting
    }
    const connecting = this.#connecting;
    for (const conn of this.#connections) this.#stopKeepalive(conn);
    await Promise.all([...this.#connections].map((conn) => conn.close(this.#timers)));
    this.#current = undefined;
    await connecting?.catch(() => {});
  }

  // -------------------------------------------------------------------------
  // Internals.

  #subscribeParams(subscription: Subscription): SubscribeParams {
    const params: SubscribeParams = { workerId: subscription.workerId, credits: this.#credits };
    if (subscription.types !== undefined) params.types = subscription.types;
    if (subscription.leaseMs !== undefined) params.leaseMs = subscription.leaseMs;
    return params;
  }

  #deadline(timeoutMs: number, what: string): Deadline {
    let handle: unknown;
    const promise = new Promise<never>((_, reject) => {
      handle = this.#timers.setTimeout(() => {
        const cause = this.connected ? undefined : this.#lastConnectError;
        const detail = cause === undefined ? "" : ` (not connected: ${cause.message})`;
        reject(
          new TimeoutError(
            `${what} timed out after ${timeoutMs} ms${detail}`,
            cause === undefined ? {} : { cause },
          ),
        );
      }, timeoutMs);
    });
    promise.catch(() => {});
    return { promise, clear: () => this.#timers.clearTimeout(handle) };
  }

  /** Sends one request on `conn` and waits for its reply, at most `timeoutMs`. */
  async #callOn(conn: Connection, method: string, params: unknown, timeoutMs: number) {
    const deadline = this.#deadline(timeoutMs, method);
    const id = this.#nextId++;
    try {
      return await Promise.race([conn.call(id, method, params), deadline.promise]);
    } catch (error) {
      if (error instanceof TimeoutError) this.#checkAlive(conn, `${method} timed out`);
      throw error;
    } finally {
      deadline.clear();
      conn.forget(id);
    }
  }

  /**
   * Sends one request, connecting first if needed, within one deadline; on a
   * `not_leader` reply with a new leader URL, reconnects there and retries
   * once; on a `shutting_down` reply (the broker is stopping and did not apply
   * the request) leaves that connection and retries once on the next broker.
   */
  async #call(
    method: string,
    params: unknown,
    options: { extraTimeoutMs?: number; timeoutMs?: number; onSend?: (conn: Connection) => void } =
      {},
  ): Promise<unknown> {
    if (this.#closed) throw closedError();
    const timeoutMs = (options.timeoutMs ?? this.#requestTimeoutMs) + (options.extraTimeoutMs ?? 0);
    const deadline = this.#deadline(timeoutMs, method);
    let redirected = false;
    let movedOn = false;
    try {
      for (;;) {
        this.#waiting++;
        let conn: Connection;
        try {
          conn = await Promise.race([this.#connection(), deadline.promise]);
        } finally {
          this.#waiting--;
        }
        const id = this.#nextId++;
        const reply = conn.call(id, method, typeof params === "function" ? params() : params);
        options.onSend?.(conn);
        try {
          return await Promise.race([reply, deadline.promise]);
        } catch (error) {
          conn.forget(id);
          if (error instanceof TimeoutError) this.#checkAlive(conn, `${method} timed out`);
          if (
            !redirected && error instanceof NotLeaderError && error.leaderUrl !== undefined &&
            this.#switchTo(error.leaderUrl)
          ) {
            redirected = true;
            continue;
          }
          if (!movedOn && error instanceof ShuttingDownError) {
            movedOn = true;
            this.#leave(conn);
            continue;
          }
          throw error;
        }
      }
    } finally {
      deadline.clear();
    }
  }

  /** Stops using `conn` (its broker is stopping): new requests go to the next URL. */
  #leave(conn: Connection): void {
    if (this.#current !== conn) return;
    this.#current = undefined;
    if (this.#urls.length > 1 && websocketUrl(this.#baseUrl) === conn.url) this.#advance();
    conn.retire();
  }

  /** Points the client at another broker; false when it is the current one. */
  #switchTo(leaderUrl: string): boolean {
    let target: string;
    try {
      target = websocketUrl(leaderUrl);
    } catch {
      return false;
    }
    if (target === websocketUrl(this.#baseUrl) || this.#isSuspect(target)) return false;
    this.#point(leaderUrl);
    const old = this.#current;
    this.#current = undefined;
    old?.retire();
    return true;
  }

  /** The current greeted connection, connecting if needed. */
  #connection(): Promise<Connection> {
    if (this.#closed) return Promise.reject(closedError());
    const current = this.#current;
    if (current !== undefined && !current.closed) return Promise.resolve(current);
    if (this.#connecting === undefined) {
      const connecting = this.#connectLoop(false).finally(() => {
        if (this.#connecting === connecting) this.#connecting = undefined;
      });
      connecting.catch(() => {});
      this.#connecting = connecting;
    }
    return this.#connecting;
  }

  #backoffDelay(failures: number): number {
    const base = Math.min(this.#maxDelayMs, this.#minDelayMs * 2 ** Math.min(failures, 30));
    return base / 2 + this.#random() * (base / 2);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#timers.setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, ms);
      this.#sleep = { handle, resolve };
    });
  }

  #hasDemand(): boolean {
    return this.#waiting > 0 || this.#subscription?.active === true;
  }

  /**
   * Opens and greets a connection, retrying with backoff while someone needs
   * it, and following leader hints. Rejects when the client closes, when
   * nobody waits any more, or on a non-retryable error while requests wait.
   */
  async #connectLoop(delayFirst: boolean): Promise<Connection> {
    let hops = 0;
    let delay = delayFirst;
    let short = false;
    for (;;) {
      if (delay) {
        const backoff = this.#backoffDelay(this.#failures);
        await this.#pause(short ? Math.min(backoff, STANDBY_RETRY_MS) : backoff);
      }
      if (this.#closed) throw closedError();
      delay = false;
      const target = websocketUrl(this.#baseUrl);
      let reached = false;
      let standby = false;
      try {
        const conn = await this.#open(target);
        let hello: HelloResult;
        try {
          const params: HelloParams = { protocol: PROTOCOL_VERSION };
          if (this.#token !== undefined) params.token = this.#token;
          if (this.#clientId !== undefined) params.clientId = this.#clientId;
          hello = await this.#callOn(conn, "hello", params, this.#connectTimeoutMs) as HelloResult;
        } catch (error) {
          // Do not wait for a closing handshake a frozen broker would never answer.
          conn.abandon("hello failed");
          reached = error instanceof OsqueueError && error.code !== "timeout" &&
            error.code !== "disconnected";
          throw error;
        }
        reached = true;
        if (this.#closed) {
          await conn.close(this.#timers);
          throw closedError();
        }
        if (
          hello?.leader === false && typeof hello.leaderUrl === "string" &&
          this.#differs(hello.leaderUrl)
        ) {
          if (this.#isSuspect(hello.leaderUrl)) {
            // A standby naming the leader that just stopped answering: ask
            // again soon (it takes over after its takeover timeout).
            standby = true;
            await conn.close(this.#timers);
            throw new UnavailableError(
              `${target} is not the leader, and the leader it names (${hello.leaderUrl}) does not answer`,
            );
          }
          if (hops < this.#maxRedirects) {
            hops++;
            this.#point(hello.leaderUrl);
            await conn.close(this.#timers);
            continue;
          }
        }
        this.#current = conn;
        this.#failures = 0;
        this.#roundFailures = 0;
        this.#lastConnectError = undefined;
        if (hello?.leader !== false) this.#suspects.clear();
        this.#startKeepalive(conn);
        this.#resubscribe(conn);
        this.#rewatch(conn);
        return conn;
      } catch (caught) {
        if (this.#closed) throw closedError();
        const error = toOsqueueError(caught);
        if (
          error instanceof NotLeaderError && error.leaderUrl !== undefined &&
          hops < this.#maxRedirects && this.#differs(error.leaderUrl) &&
          !this.#isSuspect(error.leaderUrl)
        ) {
          hops++;
          this.#point(error.leaderUrl);
          continue;
        }
        this.#lastConnectError = error;
        if (this.#waiting > 0 && !error.retryable) throw error;
        if (!this.#hasDemand()) throw error;
        if (this.#waiting === 0) this.#onError?.(error);
        // A broker that cannot be reached is not followed to by hints until a
        // good connection; the next URL is tried at once, and the client backs
        // off only once every URL failed in a row.
        if (!reached) this.#suspects.set(target, this.#clock());
        this.#advance();
        this.#roundFailures++;
        if (this.#roundFailures >= this.#urls.length) {
          this.#roundFailures = 0;
          this.#failures++;
          delay = true;
          short = standby;
        }
      }
    }
  }

  /** Points the client at `url`, remembering its place in the URL list when it is there. */
  #point(url: string): void {
    this.#baseUrl = url;
    const target = websocketUrl(url);
    const index = this.#urls.findIndex((candidate) => websocketUrl(candidate) === target);
    if (index >= 0) this.#urlIndex = index;
  }

  /** Moves on to the next URL of the list that has not just stopped answering (if any). */
  #advance(): void {
    const count = this.#urls.length;
    let next = (this.#urlIndex + 1) % count;
    for (let step = 1; step <= count; step++) {
      const candidate = (this.#urlIndex + step) % count;
      if (!this.#isSuspect(this.#urls[candidate])) {
        next = candidate;
        break;
      }
    }
    this.#urlIndex = next;
    this.#baseUrl = this.#urls[next];
  }

  #isSuspect(url: string): boolean {
    let target: string;
    try {
      target = websocketUrl(url);
    } catch {
      return false;
    }
    const since = this.#suspects.get(target);
    if (since === undefined) return false;
    if (this.#clock() - since < this.#suspectMs) return true;
    this.#suspects.delete(target);
    return false;
  }

  /** Pings `conn` whenever nothing arrived on it for `keepaliveMs`; drops it when a ping goes unanswered. */
  #startKeepalive(conn: Connection): void {
    if (this.#keepaliveMs <= 0) return;
    const schedule = (ms: number) => {
      if (conn.closed || this.#closed) return;
      conn.keepalive = this.#timers.setTimeout(tick, Math.max(1, ms));
    };
    const tick = () => {
      conn.keepalive = undefined;
      if (conn.closed || this.#closed) return;
      const idle = this.#clock() - conn.lastReceived;
      if (idle < this.#keepaliveMs) return schedule(this.#keepaliveMs - idle);
      this.#callOn(conn, "ping", undefined, this.#keepaliveTimeoutMs).then(
        () => schedule(this.#keepaliveMs),
        (error) => {
          if (error instanceof TimeoutError) {
            this.#drop(conn, `no reply to ping within ${this.#keepaliveTimeoutMs} ms`);
          } else {
            // Any reply (e.g. method_not_found from an older broker) shows it is alive.
            schedule(this.#keepaliveMs);
          }
        },
      );
    };
    schedule(this.#keepaliveMs);
  }

  #stopKeepalive(conn: Connection): void {
    if (conn.keepalive === undefined) return;
    this.#timers.clearTimeout(conn.keepalive);
    conn.keepalive = undefined;
  }

  /** After a request on `conn` timed out: drops `conn` when nothing arrived on it for `keepaliveTimeoutMs`. */
  #checkAlive(conn: Connection, what: string): void {
    const silent = this.#clock() - conn.lastReceived;
    if (!conn.closed && silent >= this.#keepaliveTimeoutMs) {
      this.#drop(conn, `${what}, and nothing arrived for ${silent} ms`);
    }
  }

  /**
   * Gives up on a connection that stopped answering: its waiting requests
   * fail with `disconnected`, its broker is not followed to by hints until a
   * good connection, and the client moves on to the next URL (a subscription
   * reconnects in the background).
   */
  #drop(conn: Connection, reason: string): void {
    if (conn.closed) return;
    this.#suspects.set(conn.url, this.#clock());
    if (this.#current === conn && websocketUrl(this.#baseUrl) === conn.url) this.#advance();
    conn.abandon(reason);
    if (!this.#closed) {
      this.#onError?.(new UnavailableError(`gave up on the connection to ${conn.url}: ${reason}`));
    }
  }

  #differs(url: string): boolean {
    try {
      return websocketUrl(url) !== websocketUrl(this.#baseUrl);
    } catch {
      return false;
    }
  }

  /** Opens a WebSocket and wraps it once open. */
  #open(url: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new this.#WebSocket(url);
      } catch (error) {
        reject(new InvalidError(`cannot open WebSocket to ${url}`, { cause: error }));
        return;
      }
      this.#opening = ws;
      const cleanup = () => {
        this.#timers.clearTimeout(handle);
        ws.removeEventListener("open", onOpen);
        ws.removeEventListener("close", onFail);
        if (this.#opening === ws) this.#opening = undefined;
      };
      const onOpen = () => {
        cleanup();
        const conn = new Connection(
          ws,
          url,
          this.#clock,
          (c, method, params) => this.#onNotification(c, method, params),
          (c, _code, reason) => this.#onClose(c, reason),
          this.#timers,
        );
        this.#connections.add(conn);
        resolve(conn);
      };
      const onFail = () => {
        cleanup();
        reject(new UnavailableError(`cannot connect to ${url}`));
      };
      const handle = this.#timers.setTimeout(() => {
        cleanup();
        try {
          ws.close();
        } catch {
          // not open yet
        }
        reject(new UnavailableError(`connecting to ${url} timed out`));
      }, this.#connectTimeoutMs);
      ws.addEventListener("open", onOpen);
      ws.addEventListener("close", onFail);
      // "error" is always followed by "close"; listen so runtimes do not report it unhandled.
      ws.addEventListener("error", () => {});
    });
  }

  #resubscribe(conn: Connection): void {
    const subscription = this.#subscription;
    if (subscription === undefined || !subscription.active || subscription.conn === undefined) {
      return;
    }
    subscription.conn = conn;
    this.#callOn(conn, "subscribe", this.#subscribeParams(subscription), this.#requestTimeoutMs)
      .catch((error) => {
        if (subscription.active && !this.#closed) this.#onError?.(toOsqueueError(error));
      });
  }

  /** A watch follows the client to a new connection. */
  #rewatch(conn: Connection): void {
    const watch = this.#watch;
    if (watch === undefined) return;
    this.#callOn(conn, "watch", { ...watch.params }, this.#requestTimeoutMs).catch((error) =>
      this.#onError?.(toOsqueueError(error))
    );
  }

  #onNotification(_conn: Connection, method: string, params: unknown): void {
    if (method === "job") {
      const watch = this.#watch;
      if (watch === undefined || typeof params !== "object" || params === null) return;
      try {
        watch.onEvent(params as JobEvent);
      } catch (error) {
        this.#onError?.(toOsqueueError(error));
      }
      return;
    }
    if (method !== "deliver") return;
    const jobs = (params as { jobs?: unknown } | undefined)?.jobs;
    if (!Array.isArray(jobs) || jobs.length === 0) return;
    this.#credits = Math.max(0, this.#credits - jobs.length);
    const subscription = this.#subscription;
    if (subscription === undefined) {
      // Nobody to run them: give them back.
      for (const job of jobs as ClaimedJob[]) {
        this.release(job.id, job.leaseToken).catch((error) =>
          this.#onError?.(toOsqueueError(error))
        );
      }
      return;
    }
    try {
      subscription.onJobs(jobs as ClaimedJob[]);
    } catch (error) {
      this.#onError?.(toOsqueueError(error));
    }
  }

  #onClose(conn: Connection, reason: string): void {
    this.#stopKeepalive(conn);
    this.#connections.delete(conn);
    if (this.#current !== conn) {
      // A retired connection that still carried the subscription: move it.
      if (this.#subscription?.conn !== conn) return;
    } else {
      this.#current = undefined;
      // A broker that loses leadership closes with reason `not_leader <leaderUrl>`.
      const match = /^not_leader (\S+)$/.exec(reason);
      if (match !== null && !this.#closed) this.#switchTo(match[1]);
    }
    if (this.#closed || this.#subscription?.active !== true) return;
    this.#reconnectInBackground();
  }

  #reconnectInBackground(): void {
    if (this.#connecting !== undefined || this.#closed) return;
    const current = this.#current;
    if (current !== undefined && !current.closed) return this.#resubscribe(current);
    const connecting = this.#connectLoop(true).finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
    connecting.catch((error) => {
      if (this.#closed || this.#subscription?.active !== true) return;
      this.#onError?.(toOsqueueError(error));
      // A non-retryable failure with an active subscription: keep trying, slowly.
      this.#pause(this.#backoffDelay(this.#failures)).then(() => this.#reconnectInBackground());
    });
  }
}

/** Creates an {@linkcode OsqueueClient} (it connects on the first request). */
export function connectClient(options: ClientOptions): OsqueueClient {
  return new OsqueueClient(options);
}
