/**
 * {@linkcode Requests}: sending requests and waiting for their replies within
 * a deadline. {@linkcode Requests.request} gets a connection from the
 * connection manager, follows one `not_leader` redirect and moves on once
 * from a broker that is `shutting_down` (neither was applied, so the retry is
 * safe); {@linkcode Requests.callOn} sends on one given connection. A timeout
 * on a connection nothing arrived on lately drops that connection.
 *
 * @module
 */
import { NotLeaderError, type OsqueueError, ShuttingDownError, TimeoutError } from "../errors.ts";
import type { Timers } from "./client_options.ts";
import { closedError, type Connection } from "./connection.ts";

/** What requests need from the connection manager. */
export interface RequestRoute {
  /** Whether the client closed. */
  readonly closed: boolean;
  /** Whether a greeted connection is open now. */
  readonly connected: boolean;
  /** Why the last connection attempt failed (named in timeouts while not connected). */
  readonly lastConnectError: OsqueueError | undefined;
  /** The current connection (connecting if needed), or the deadline's rejection. */
  connectionWithin(deadline: Promise<never>): Promise<Connection>;
  /** Points the client at another broker; false when it is the current one (or suspect). */
  switchTo(leaderUrl: string): boolean;
  /** Stops using `conn` (its broker is stopping). */
  leave(conn: Connection): void;
  /** After a request on `conn` timed out: drops `conn` when nothing arrived on it lately. */
  checkAlive(conn: Connection, what: string): void;
}

/** Options of {@linkcode Requests}. */
export interface RequestsOptions {
  /** Timer functions. */
  timers: Timers;
  /** Default deadline of a request, ms. */
  requestTimeoutMs: number;
}

/** Options of {@linkcode Requests.request}. */
export interface CallOptions {
  /** Added to the deadline (a long-poll `claim`'s `waitMs`), ms. */
  extraTimeoutMs?: number;
  /** Deadline instead of the default request timeout, ms. */
  timeoutMs?: number;
  /** Told the connection the request went out on. */
  onSend?: (conn: Connection) => void;
}

interface Deadline {
  promise: Promise<never>;
  clear(): void;
}

/** Sends the client's requests; ids are unique across its connections. */
export class Requests {
  readonly #timers: Timers;
  readonly #requestTimeoutMs: number;
  #route!: RequestRoute;
  #nextId = 1;

  /** Creates the request side; {@linkcode Requests.attach} gives it its route. */
  constructor(options: RequestsOptions) {
    this.#timers = options.timers;
    this.#requestTimeoutMs = options.requestTimeoutMs;
  }

  /** Binds the connection manager. */
  attach(route: RequestRoute): void {
    this.#route = route;
  }

  /**
   * Sends one request, connecting first if needed, within one deadline; on a
   * `not_leader` reply with a new leader URL, reconnects there and retries
   * once; on a `shutting_down` reply (the broker is stopping and did not apply
   * the request) leaves that connection and retries once on the next broker.
   * `params` may be a function, called when the request goes out.
   */
  async request(method: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.#route.closed) throw closedError();
    const timeoutMs = (options.timeoutMs ?? this.#requestTimeoutMs) +
      (options.extraTimeoutMs ?? 0);
    const deadline = this.#deadline(timeoutMs, method);
    let redirected = false;
    let movedOn = false;
    try {
      for (;;) {
        const conn = await this.#route.connectionWithin(deadline.promise);
        const id = this.#nextId++;
        const reply = conn.call(id, method, typeof params === "function" ? params() : params);
        options.onSend?.(conn);
        try {
          return await Promise.race([reply, deadline.promise]);
        } catch (error) {
          conn.forget(id);
          if (error instanceof TimeoutError) this.#route.checkAlive(conn, `${method} timed out`);
          if (
            !redirected && error instanceof NotLeaderError && error.leaderUrl !== undefined &&
            this.#route.switchTo(error.leaderUrl)
          ) {
            redirected = true;
            continue;
          }
          if (!movedOn && error instanceof ShuttingDownError) {
            movedOn = true;
            this.#route.leave(conn);
            continue;
          }
          throw error;
        }
      }
    } finally {
      deadline.clear();
    }
  }

  /** Sends one request on `conn` and waits for its reply, at most `timeoutMs`. */
  async callOn(
    conn: Connection,
    method: string,
    params: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    const deadline = this.#deadline(timeoutMs, method);
    const id = this.#nextId++;
    try {
      return await Promise.race([conn.call(id, method, params), deadline.promise]);
    } catch (error) {
      if (error instanceof TimeoutError) this.#route.checkAlive(conn, `${method} timed out`);
      throw error;
    } finally {
      deadline.clear();
      conn.forget(id);
    }
  }

  #deadline(timeoutMs: number, what: string): Deadline {
    let handle: unknown;
    const promise = new Promise<never>((_, reject) => {
      handle = this.#timers.setTimeout(() => {
        const cause = this.#route.connected ? undefined : this.#route.lastConnectError;
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
}
