/**
 * {@linkcode ConnectionManager}: keeps the client's one current connection to
 * a broker. It connects lazily (with backoff and jitter between failed
 * rounds), says `hello`, follows leader hints and `not_leader` redirects,
 * moves on to the next URL when a broker cannot be reached or stops
 * answering (the `ping` keepalive), and reconnects in the background while a
 * subscription needs a connection. Requests go out through `requests.ts`.
 *
 * @module
 */
import { NotLeaderError, OsqueueError, toOsqueueError, UnavailableError } from "../errors.ts";
import type { HelloResult } from "../protocol/wire.ts";
import type { BrokerUrls } from "./broker_urls.ts";
import type { Timers, WebSocketConstructor } from "./client_options.ts";
import { closedError, type Connection, openConnection, websocketUrl } from "./connection.ts";
import { batchBytes, helloVerdict, isDenoBuiltinWebSocket, sayHello } from "./greeting.ts";
import { startKeepalive } from "./keepalive.ts";
import { ReconnectBackoff } from "./reconnect_backoff.ts";
import type { RequestRoute, Requests } from "./requests.ts";

/** Longest wait before asking a standby again while the leader it names does not answer, ms. */
const STANDBY_RETRY_MS = 500;

/** What the connection manager tells the subscription side (see `deliveries.ts`). */
export interface ConnectionEvents {
  /** A new connection was greeted: move the subscription and the watch onto it. */
  connected(conn: Connection): void;
  /** The subscription's connection closed while `conn` is current: re-subscribe on `conn`. */
  resubscribe(conn: Connection): void;
  /** A notification frame arrived. */
  notification(conn: Connection, method: string, params: unknown): void;
  /** Whether a subscription wants a connection kept up (reconnecting in the background). */
  wantsConnection(): boolean;
  /** Whether the subscription last went out on `conn`. */
  carries(conn: Connection): boolean;
}

/** Options of {@linkcode ConnectionManager} (resolved client options). */
export interface ConnectionManagerOptions {
  /** The brokers to try. */
  urls: BrokerUrls;
  /** Bearer token sent in `hello`. */
  token?: string;
  /** Name sent in `hello`. */
  clientId?: string;
  /** Default request deadline, ms. */
  requestTimeoutMs: number;
  /** Deadline of opening a socket and of its `hello`, ms. */
  connectTimeoutMs: number;
  /** Idle time before a keepalive `ping`, ms (0: off). */
  keepaliveMs: number;
  /** Silence after which a connection is dropped, ms. */
  keepaliveTimeoutMs: number;
  /** First reconnect backoff, ms. */
  minDelayMs: number;
  /** Largest reconnect backoff, ms. */
  maxDelayMs: number;
  /** Random source in [0, 1) for the jitter. */
  random: () => number;
  /** Most leader hops while connecting. */
  maxRedirects: number;
  /** `WebSocket` constructor. */
  WebSocket: WebSocketConstructor;
  /** Timer functions. */
  timers: Timers;
  /** Current time, epoch ms. */
  clock: () => number;
  /** Errors nobody awaits. */
  onError?: (error: OsqueueError) => void;
  /** The subscription side. */
  events: ConnectionEvents;
  /** Sends requests on a connection (`hello`, `ping`). */
  requests: Requests;
}

/** The client's connection to its current broker, and how it gets one. */
export class ConnectionManager implements RequestRoute {
  readonly #urls: BrokerUrls;
  readonly #options: ConnectionManagerOptions;
  readonly #timers: Timers;
  readonly #clock: () => number;
  readonly #events: ConnectionEvents;
  readonly #requests: Requests;

  /** Failed connection attempts since the client last backed off. */
  #roundFailures = 0;
  #current?: Connection;
  #connecting?: Promise<Connection>;
  #opening?: WebSocket;
  #waiting = 0;
  #failures = 0;
  #lastConnectError?: OsqueueError;
  #closed = false;
  readonly #backoff: ReconnectBackoff;
  readonly #connections = new Set<Connection>();
  readonly #keepalives = new Map<Connection, () => void>();

  /** Creates a manager; nothing connects until a request needs it. */
  constructor(options: ConnectionManagerOptions) {
    this.#options = options;
    this.#urls = options.urls;
    this.#timers = options.timers;
    this.#clock = options.clock;
    this.#events = options.events;
    this.#requests = options.requests;
    this.#backoff = new ReconnectBackoff(options);
  }

  /** Whether {@linkcode ConnectionManager.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The current greeted connection, if one is open. */
  get current(): Connection | undefined {
    return this.#current;
  }

  /** Whether a greeted connection is open now. */
  get connected(): boolean {
    return this.#current !== undefined && !this.#current.closed;
  }

  /** Why the last connection attempt failed (until one succeeds). */
  get lastConnectError(): OsqueueError | undefined {
    return this.#lastConnectError;
  }

  /** The current greeted connection (connecting if needed), or the deadline's rejection. */
  async connectionWithin(deadline: Promise<never>): Promise<Connection> {
    this.#waiting++;
    try {
      return await Promise.race([this.#connection(), deadline]);
    } finally {
      this.#waiting--;
    }
  }

  /**
   * Stops reconnecting, fails waiting requests with `disconnected`, closes
   * every socket. Later requests fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#backoff.cancel();
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

  /** Stops using `conn` (its broker is stopping): new requests go to the next URL. */
  leave(conn: Connection): void {
    if (this.#current !== conn) return;
    this.#current = undefined;
    if (this.#urls.count > 1 && this.#urls.target === conn.url) this.#urls.advance();
    conn.retire();
  }

  /** Points the client at another broker; false when it is the current one. */
  switchTo(leaderUrl: string): boolean {
    let target: string;
    try {
      target = websocketUrl(leaderUrl);
    } catch {
      return false;
    }
    if (target === this.#urls.target || this.#urls.isSuspect(target)) return false;
    this.#urls.point(leaderUrl);
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

  #hasDemand(): boolean {
    return this.#waiting > 0 || this.#events.wantsConnection();
  }

  /**
   * Opens and greets a connection, retrying with backoff while someone needs
   * it, and following leader hints. Rejects when the client closes, when
   * nobody waits any more, or on a non-retryable error while requests wait.
   */
  async #connectLoop(delayFirst: boolean): Promise<Connection> {
    const { connectTimeoutMs, maxRedirects, token, clientId } = this.#options;
    // Deno's own WebSocket leaves Nagle's algorithm on: small batch frames, and acks from the broker.
    const nagleBound = isDenoBuiltinWebSocket(this.#options.WebSocket);
    const urls = this.#urls;
    let hops = 0;
    let delay = delayFirst;
    let short = false;
    for (;;) {
      if (delay) {
        const backoff = this.#backoff.delay(this.#failures);
        await this.#backoff.pause(short ? Math.min(backoff, STANDBY_RETRY_MS) : backoff);
      }
      if (this.#closed) throw closedError();
      delay = false;
      const target = urls.target;
      let reached = false;
      let standby = false;
      try {
        const conn = await this.#open(target);
        let hello: HelloResult;
        try {
          hello = await sayHello({
            requests: this.#requests,
            conn,
            token,
            clientId,
            timeoutMs: connectTimeoutMs,
            ack: nagleBound,
          });
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
        const verdict = helloVerdict(hello, urls, hops < maxRedirects);
        if (verdict.kind === "suspect-leader") {
          // A standby naming the leader that just stopped answering: ask
          // again soon (it takes over after its takeover timeout).
          standby = true;
          await conn.close(this.#timers);
          throw new UnavailableError(
            `${target} is not the leader, and the leader it names (${verdict.leaderUrl}) does not answer`,
          );
        }
        if (verdict.kind === "follow") {
          hops++;
          urls.point(verdict.leaderUrl);
          await conn.close(this.#timers);
          continue;
        }
        const batch = batchBytes(hello, { smallFrames: nagleBound });
        if (batch > 0) conn.batchRequests(batch);
        this.#current = conn;
        this.#failures = 0;
        this.#roundFailures = 0;
        this.#lastConnectError = undefined;
        if (hello?.leader !== false) urls.trustAll();
        this.#startKeepalive(conn);
        this.#events.connected(conn);
        return conn;
      } catch (caught) {
        if (this.#closed) throw closedError();
        const error = toOsqueueError(caught);
        if (
          error instanceof NotLeaderError && error.leaderUrl !== undefined &&
          hops < maxRedirects && urls.differs(error.leaderUrl) &&
          !urls.isSuspect(error.leaderUrl)
        ) {
          hops++;
          urls.point(error.leaderUrl);
          continue;
        }
        this.#lastConnectError = error;
        if (this.#waiting > 0 && !error.retryable) throw error;
        if (!this.#hasDemand()) throw error;
        if (this.#waiting === 0) this.#options.onError?.(error);
        // A broker that cannot be reached is not followed to by hints until a
        // good connection; the next URL is tried at once, and the client backs
        // off only once every URL failed in a row.
        if (!reached) urls.suspect(target);
        urls.advance();
        this.#roundFailures++;
        if (this.#roundFailures >= urls.count) {
          this.#roundFailures = 0;
          this.#failures++;
          delay = true;
          short = standby;
        }
      }
    }
  }

  #startKeepalive(conn: Connection): void {
    const { keepaliveMs, keepaliveTimeoutMs } = this.#options;
    const stop = startKeepalive({
      conn,
      keepaliveMs,
      keepaliveTimeoutMs,
      clock: this.#clock,
      timers: this.#timers,
      stopped: () => this.#closed,
      ping: () => this.#requests.callOn(conn, "ping", undefined, keepaliveTimeoutMs),
      drop: (reason) => this.#drop(conn, reason),
    });
    this.#keepalives.set(conn, stop);
  }

  #stopKeepalive(conn: Connection): void {
    this.#keepalives.get(conn)?.();
    this.#keepalives.delete(conn);
  }

  /** After a request on `conn` timed out: drops `conn` when nothing arrived on it for `keepaliveTimeoutMs`. */
  checkAlive(conn: Connection, what: string): void {
    const silent = this.#clock() - conn.lastReceived;
    if (!conn.closed && silent >= this.#options.keepaliveTimeoutMs) {
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
    this.#urls.suspect(conn.url);
    if (this.#current === conn && this.#urls.target === conn.url) this.#urls.advance();
    conn.abandon(reason);
    if (!this.#closed) {
      this.#options.onError?.(
        new UnavailableError(`gave up on the connection to ${conn.url}: ${reason}`),
      );
    }
  }

  /** Opens a WebSocket and wraps it once open. */
  #open(url: string): Promise<Connection> {
    return openConnection({
      url,
      WebSocket: this.#options.WebSocket,
      clock: this.#clock,
      timers: this.#timers,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      onOpening: (ws, opening) => {
        if (opening) this.#opening = ws;
        else if (this.#opening === ws) this.#opening = undefined;
      },
      onOpened: (conn) => this.#connections.add(conn),
      onNotification: (conn, method, params) => this.#events.notification(conn, method, params),
      onClose: (conn, _code, reason) => this.#onClose(conn, reason),
    });
  }

  #onClose(conn: Connection, reason: string): void {
    this.#stopKeepalive(conn);
    this.#connections.delete(conn);
    if (this.#current !== conn) {
      // A retired connection that still carried the subscription: move it.
      if (!this.#events.carries(conn)) return;
    } else {
      this.#current = undefined;
      // A broker that loses leadership closes with reason `not_leader <leaderUrl>`.
      const match = /^not_leader (\S+)$/.exec(reason);
      if (match !== null && !this.#closed) this.switchTo(match[1]);
    }
    if (this.#closed || !this.#events.wantsConnection()) return;
    this.#reconnectInBackground();
  }

  #reconnectInBackground(): void {
    if (this.#connecting !== undefined || this.#closed) return;
    const current = this.#current;
    if (current !== undefined && !current.closed) return this.#events.resubscribe(current);
    const connecting = this.#connectLoop(true).finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
    connecting.catch((error) => {
      if (this.#closed || !this.#events.wantsConnection()) return;
      this.#options.onError?.(toOsqueueError(error));
      // A non-retryable failure with an active subscription: keep trying, slowly.
      this.#backoff.pause(this.#backoff.delay(this.#failures)).then(() =>
        this.#reconnectInBackground()
      );
    });
  }
}
