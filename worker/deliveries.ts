/**
 * {@linkcode Deliveries}: the client's push-delivery side. It keeps the one
 * subscription and the credits it has left, batches the credits granted
 * together (before the pending promise callbacks have all run) into one
 * `credit` frame, re-subscribes (with the credits not yet used)
 * and re-watches when the client reconnects, and hands `deliver` and `job`
 * notifications to their handlers.
 *
 * @module
 */
import { OsqueueError, toOsqueueError } from "../errors.ts";
import type { JobEvent } from "../protocol/backend.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import type { SubscribeParams, WatchParams } from "../protocol/wire.ts";
import type { DeliveryHandler } from "./client_options.ts";
import { closedError, type Connection } from "./connection.ts";
import type { ConnectionEvents, ConnectionManager } from "./connection_manager.ts";
import type { Requests } from "./requests.ts";

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

/** Options of {@linkcode Deliveries}. */
export interface DeliveriesOptions {
  /** Deadline of the requests sent on one connection, ms. */
  requestTimeoutMs: number;
  /** Gives back a job delivered when nobody subscribes any more. */
  release: (job: ClaimedJob) => Promise<unknown>;
  /** Errors nobody awaits. */
  onError?: (error: OsqueueError) => void;
}

/** The subscription, its credits and the watch of one client. */
export class Deliveries implements ConnectionEvents {
  readonly #options: DeliveriesOptions;
  #connections!: ConnectionManager;
  #requests!: Requests;
  #subscription?: Subscription;
  #credits = 0;
  #watch: { params: WatchParams; onEvent: (event: JobEvent) => void } | undefined;
  /** Credits granted since the last `credit` frame, sent together at the end of this turn. */
  #unsentCredits = 0;
  #creditFlush: Promise<void> | undefined;

  /** Creates the delivery side; {@linkcode Deliveries.attach} gives it its connections. */
  constructor(options: DeliveriesOptions) {
    this.#options = options;
  }

  /** Binds the connection manager (which in turn reports its events here) and the request side. */
  attach(connections: ConnectionManager, requests: Requests): void {
    this.#connections = connections;
    this.#requests = requests;
  }

  /** Credits granted and not yet used by a delivery, as this client counts them. */
  get credits(): number {
    return this.#credits;
  }

  /** See `OsqueueClient.subscribe`. */
  async subscribe(params: SubscribeParams, onJobs: DeliveryHandler): Promise<void> {
    if (this.#connections.closed) throw closedError();
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
      await this.#requests.request("subscribe", () => this.#subscribeParams(subscription), {
        onSend: (conn) => subscription.conn = conn,
      });
    } catch (error) {
      subscription.active = false;
      throw error;
    }
  }

  /** See `OsqueueClient.credit`. */
  credit(credits: number): Promise<void> {
    if (credits <= 0) return Promise.resolve();
    this.#credits += credits;
    this.#unsentCredits += credits;
    // Flushed as a microtask, not at the end of the turn: the credit then
    // leaves in the same turn as the `complete` of the job that freed it, so
    // the broker takes the next claim into the same commit (a frame one turn
    // later misses it and costs each job a commit of its own).
    this.#creditFlush ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        const batch = this.#unsentCredits;
        this.#unsentCredits = 0;
        this.#creditFlush = undefined;
        this.#sendCredits(batch).then(resolve, reject);
      });
    });
    return this.#creditFlush;
  }

  async #sendCredits(credits: number): Promise<void> {
    const subscription = this.#subscription;
    const conn = this.#connections.current;
    if (
      credits <= 0 || subscription === undefined || !subscription.active || conn === undefined ||
      conn.closed || subscription.conn !== conn
    ) return;
    try {
      await this.#requests.callOn(
        conn,
        "credit",
        { credits },
        this.#options.requestTimeoutMs,
      );
    } catch (error) {
      // A lost connection re-subscribes with the remaining credits, these included.
      if (error instanceof OsqueueError && error.code === "disconnected") return;
      throw error;
    }
  }

  /** See `OsqueueClient.watch`. */
  async watch(filter: WatchParams, onEvent: (event: JobEvent) => void): Promise<void> {
    this.#watch = { params: { ...filter }, onEvent };
    await this.#requests.request("watch", { ...filter });
  }

  /** See `OsqueueClient.unwatch`. */
  async unwatch(): Promise<void> {
    if (this.#watch === undefined) return;
    this.#watch = undefined;
    const conn = this.#connections.current;
    if (conn === undefined || conn.closed) return;
    await this.#requests.callOn(conn, "unwatch", undefined, this.#options.requestTimeoutMs)
      .catch(() => {});
  }

  /** See `OsqueueClient.unsubscribe`. */
  async unsubscribe(): Promise<void> {
    const subscription = this.#subscription;
    if (subscription === undefined || !subscription.active) return;
    subscription.active = false;
    const conn = this.#connections.current;
    if (conn === undefined || conn.closed || subscription.conn !== conn) return;
    try {
      await this.#requests.callOn(conn, "unsubscribe", {}, this.#options.requestTimeoutMs);
    } catch (error) {
      // A closed connection has no subscription left.
      if (error instanceof OsqueueError && error.code === "disconnected") return;
      throw error;
    }
  }

  /** Stops keeping the subscription alive (the client is closing). */
  deactivate(): void {
    if (this.#subscription !== undefined) this.#subscription.active = false;
  }

  // -------------------------------------------------------------------------
  // Events of the connection manager.

  /** A new connection was greeted: the subscription and the watch move onto it. */
  connected(conn: Connection): void {
    this.resubscribe(conn);
    this.#rewatch(conn);
  }

  /** Whether an active subscription wants a connection kept up. */
  wantsConnection(): boolean {
    return this.#subscription?.active === true;
  }

  /** Whether the subscription last went out on `conn`. */
  carries(conn: Connection): boolean {
    return this.#subscription?.conn === conn;
  }

  /** Re-subscribes on `conn` with the credits not yet used (when a subscription was sent before). */
  resubscribe(conn: Connection): void {
    const subscription = this.#subscription;
    if (subscription === undefined || !subscription.active || subscription.conn === undefined) {
      return;
    }
    subscription.conn = conn;
    this.#requests.callOn(
      conn,
      "subscribe",
      this.#subscribeParams(subscription),
      this.#options.requestTimeoutMs,
    ).catch((error) => {
      if (subscription.active && !this.#connections.closed) {
        this.#options.onError?.(toOsqueueError(error));
      }
    });
  }

  /** A watch follows the client to a new connection. */
  #rewatch(conn: Connection): void {
    const watch = this.#watch;
    if (watch === undefined) return;
    this.#requests.callOn(conn, "watch", { ...watch.params }, this.#options.requestTimeoutMs)
      .catch((error) => this.#options.onError?.(toOsqueueError(error)));
  }

  /** Hands a `job` event to the watch and a `deliver` to the subscription. */
  notification(_conn: Connection, method: string, params: unknown): void {
    const onError = this.#options.onError;
    if (method === "job") {
      const watch = this.#watch;
      if (watch === undefined || typeof params !== "object" || params === null) return;
      try {
        watch.onEvent(params as JobEvent);
      } catch (error) {
        onError?.(toOsqueueError(error));
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
        this.#options.release(job).catch((error) => onError?.(toOsqueueError(error)));
      }
      return;
    }
    try {
      subscription.onJobs(jobs as ClaimedJob[]);
    } catch (error) {
      onError?.(toOsqueueError(error));
    }
  }

  #subscribeParams(subscription: Subscription): SubscribeParams {
    const params: SubscribeParams = { workerId: subscription.workerId, credits: this.#credits };
    if (subscription.types !== undefined) params.types = subscription.types;
    if (subscription.leaseMs !== undefined) params.leaseMs = subscription.leaseMs;
    return params;
  }
}
