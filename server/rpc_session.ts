/**
 * One JSON-RPC connection as the broker server sees it, independent of the
 * socket: frame checks (size, JSON, envelope, params), authentication,
 * concurrent request handling with a cap, and push delivery.
 *
 * @module
 */
import { z } from "zod";
import { type Clock, systemClock } from "../clock.ts";
import { errorToWire, OsqueueError, ShuttingDownError, type WireError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { type ClaimedJob, type Operation, operationSchema } from "../protocol/operations.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  type HelloResult,
  type RpcNotification,
  type RpcReply,
} from "../protocol/wire.ts";
import {
  creditParamsSchema,
  helloParamsSchema,
  rpcRequestSchema,
  subscribeParamsSchema,
  watchParamsSchema,
} from "../protocol/wire_schemas.ts";
import { type Authenticator, authorize, type Grant, OPEN_GRANT } from "./auth.ts";
import { PushDispatcher, releaseJobs } from "./dispatcher.ts";

/** Default cap of requests in flight on one connection. */
export const DEFAULT_MAX_PENDING_PER_CONNECTION = 1000;

/** Default time a connection may stay unauthenticated before it is closed, ms. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** Default number of rejected requests before an unauthenticated connection is closed. */
export const DEFAULT_MAX_AUTH_FAILURES = 3;

/** WebSocket close code for policy violations (authentication failures). */
export const CLOSE_POLICY_VIOLATION = 1008;

/** WebSocket close code for a consumer that does not read what it is sent ("try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** Default outbound buffer above which no jobs are pushed to a connection, bytes. */
export const DEFAULT_PAUSE_DELIVERY_BYTES = 1024 * 1024;

/** Default outbound buffer above which a connection is closed instead of sent more, bytes. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** WebSocket close code sent when this broker cannot serve the connection any more (not leader, stopping). */
export const CLOSE_SERVICE_RESTART = 1012;

/** The queue operations callable as methods, by their `op` name. */
export const QUEUE_METHODS: ReadonlySet<string> = new Set([
  "push",
  "claim",
  "heartbeat",
  "complete",
  "fail",
  "release",
  "progress",
  "cancel",
  "get",
  "stats",
  "list",
  "retry",
  "delete",
  "promote",
  "pause",
  "resume",
  "limit",
  "schedule",
  "unschedule",
  "schedules",
]);

const unsubscribeParamsSchema = z.union([z.object({}), z.undefined()]);

/** Options of {@linkcode RpcSession}. */
export interface RpcSessionOptions {
  /** The broker. */
  backend: QueueBackend;
  /** Sends one text frame; returns `false` when the socket is no longer open. */
  send: (frame: string) => boolean;
  /** Closes the socket with a code and a reason. */
  close: (code: number, reason: string) => void;
  /** Finds a token's grant when the server requires tokens; absent = no authentication, all allowed. */
  authenticate?: Authenticator;
  /** The grant of a token already presented (e.g. a bearer header on the upgrade). */
  grant?: Grant;
  /** Largest accepted frame, bytes (default `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** Most requests in flight at once (default {@linkcode DEFAULT_MAX_PENDING_PER_CONNECTION}). */
  maxPending?: number;
  /** Close an unauthenticated connection after this many ms (default {@linkcode DEFAULT_AUTH_TIMEOUT_MS}). */
  authTimeoutMs?: number;
  /** Close an unauthenticated connection after this many rejected requests (default {@linkcode DEFAULT_MAX_AUTH_FAILURES}). */
  maxAuthFailures?: number;
  /** How long push-delivery claims park in the broker, ms. */
  claimWaitMs?: number;
  /** Clock and timers for push delivery and the auth timeout. */
  clock?: Clock;
  /** Log sink. */
  log?: (line: string) => void;
  /** A short name of the peer for logs. */
  label?: string;
  /** Bytes sent but not yet written to the network (the socket's `bufferedAmount`); default 0. */
  bufferedAmount?: () => number;
  /**
   * Above this many buffered bytes, jobs are no longer pushed to the
   * connection (default {@linkcode DEFAULT_PAUSE_DELIVERY_BYTES}).
   */
  pauseDeliveryBytes?: number;
  /**
   * Above this many buffered bytes, the next frame is not sent: the
   * connection is closed with 1013 instead (default {@linkcode DEFAULT_MAX_BUFFERED_BYTES}).
   */
  maxBufferedBytes?: number;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ` : "") + issue.message)
    .join("; ");
}

function validation(error: z.ZodError): OsqueueError {
  return new OsqueueError("validation", formatIssues(error));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** UTF-8 length of `text`, computed exactly only when it could be near `limit`. */
function exceedsBytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).length > limit;
}

function frameBytes(data: unknown): number {
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

/**
 * The close reason for a fatal push-delivery error: its code, followed by
 * ` <leaderUrl>` for `not_leader` when known and the whole fits the 123-byte
 * limit of a close reason.
 */
export function closeReason(error: OsqueueError): string {
  const leaderUrl = error.data?.leaderUrl;
  if (typeof leaderUrl === "string") {
    const reason = `${error.code} ${leaderUrl}`;
    if (new TextEncoder().encode(reason).length <= 123) return reason;
  }
  return error.code;
}

/** Parses a frame's id well enough to correlate an error reply, or `null`. */
function salvageId(value: unknown): number | string | null {
  if (!isPlainObject(value)) return null;
  const id = value.id;
  if (typeof id === "number" && Number.isInteger(id)) return id;
  if (typeof id === "string" && id.length > 0 && id.length <= 64) return id;
  return null;
}

/**
 * The server side of one JSON-RPC connection. Feed it frames with
 * {@linkcode RpcSession.handleFrame}; call {@linkcode RpcSession.close} when
 * the socket closes.
 */
export class RpcSession {
  #backend: QueueBackend;
  #unwatch: (() => void) | undefined;
  #send: (frame: string) => boolean;
  #closeSocket: (code: number, reason: string) => void;
  #authenticate?: Authenticator;
  #grant?: Grant;
  #maxFrameBytes: number;
  #maxPending: number;
  #maxAuthFailures: number;
  #authFailures = 0;
  #authTimer?: unknown;
  #clock: Clock;
  #log: (line: string) => void;
  #label: string;
  #pending = 0;
  #claimControllers = new Set<AbortController>();
  #dispatcher: PushDispatcher;
  #closed = false;
  #draining = false;
  #idleWaiters: (() => void)[] = [];
  #bufferedAmount: () => number;
  #maxBufferedBytes: number;
  #pauseDeliveryBytes: number;
  #lagging = false;

  /** Creates a session; with a token check and no prior authentication, starts the auth timer. */
  constructor(options: RpcSessionOptions) {
    this.#backend = options.backend;
    this.#send = options.send;
    this.#closeSocket = options.close;
    this.#authenticate = options.authenticate;
    this.#grant = options.authenticate === undefined ? OPEN_GRANT : options.grant;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_PER_CONNECTION;
    this.#maxAuthFailures = options.maxAuthFailures ?? DEFAULT_MAX_AUTH_FAILURES;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.#label = options.label ?? "ws";
    this.#bufferedAmount = options.bufferedAmount ?? (() => 0);
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#pauseDeliveryBytes = options.pauseDeliveryBytes ?? DEFAULT_PAUSE_DELIVERY_BYTES;
    this.#dispatcher = new PushDispatcher({
      keepingUp: () => this.#bufferedAmount() <= this.#pauseDeliveryBytes,
      backend: this.#backend,
      deliver: (jobs) => this.#notify({ method: "deliver", params: { jobs } }),
      onFatal: (error) => this.#fail(CLOSE_SERVICE_RESTART, closeReason(error)),
      log: (line) => this.#log(`${this.#label}: ${line}`),
      ...(options.claimWaitMs === undefined ? {} : { claimWaitMs: options.claimWaitMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    if (this.#grant === undefined) {
      const timeout = options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
      this.#authTimer = this.#clock.setTimeout(() => {
        this.#authTimer = undefined;
        if (this.#grant === undefined) {
          this.#fail(CLOSE_POLICY_VIOLATION, "authentication timeout");
        }
      }, timeout);
    }
  }

  /** Whether the connection may call queue methods. */
  get authenticated(): boolean {
    return this.#grant !== undefined;
  }

  /** What the connection's token allows (`undefined` until it authenticated). */
  get grant(): Grant | undefined {
    return this.#grant;
  }

  /** Requests currently in flight. */
  get pending(): number {
    return this.#pending;
  }

  /** The connection's push dispatcher (for introspection and tests). */
  get dispatcher(): PushDispatcher {
    return this.#dispatcher;
  }

  /**
   * Handles one incoming frame (text, or binary which is rejected). Never
   * throws: whatever one frame does, it gets a reply and the connection's
   * other requests go on.
   */
  handleFrame(data: unknown): void {
    try {
      this.#handleFrame(data);
    } catch (error) {
      this.#log(`${this.#label}: frame handling failed: ${String(error)}`);
      this.#reply(
        null,
        new OsqueueError("internal", `the broker could not handle this frame: ${String(error)}`),
      );
    }
  }

  #handleFrame(data: unknown): void {
    if (this.#closed) return;
    if (typeof data !== "string") {
      const size = frameBytes(data);
      if (size > this.#maxFrameBytes) {
        this.#reply(null, this.#tooLarge(size));
      } else {
        this.#reply(null, new OsqueueError("bad_request", "binary frames are not supported"));
      }
      return;
    }
    if (exceedsBytes(data, this.#maxFrameBytes)) {
      this.#reply(null, this.#tooLarge());
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      this.#reply(null, new OsqueueError("bad_request", "frame is not valid JSON"));
      return;
    }
    const envelope = rpcRequestSchema.safeParse(value);
    if (!envelope.success) {
      this.#reply(
        salvageId(value),
        new OsqueueError("bad_request", `bad request frame: ${formatIssues(envelope.error)}`),
      );
      return;
    }
    const { id, method } = envelope.data;
    let params = envelope.data.params;
    if (method === "ping") {
      // Answered before authentication too: it tells nothing and never touches
      // the broker; the auth timeout still closes an unauthenticated socket.
      this.#reply(id, undefined, { pong: true });
      return;
    }
    if (this.#draining) {
      this.#reply(id, new ShuttingDownError("the server is shutting down"));
      return;
    }
    if (method === "hello") {
      this.#hello(id, params);
      return;
    }
    const grant = this.#grant;
    if (grant === undefined) {
      this.#reject(id);
      return;
    }
    const control = method === "subscribe" || method === "credit" || method === "unsubscribe";
    const watching = method === "watch" || method === "unwatch";
    if (!control && !watching && !QUEUE_METHODS.has(method)) {
      this.#reply(id, new OsqueueError("method_not_found", `unknown method: ${method}`));
      return;
    }
    try {
      params = authorize(grant, method, params);
    } catch (error) {
      this.#reply(id, error);
      return;
    }
    if (control) {
      this.#control(id, method as "subscribe" | "credit" | "unsubscribe", params);
      return;
    }
    if (watching) {
      this.#watch(id, method === "watch" ? params : undefined);
      return;
    }
    if (params !== undefined && !isPlainObject(params)) {
      this.#reply(id, new OsqueueError("validation", "params must be an object"));
      return;
    }
    const parsed = operationSchema.safeParse({ ...params, op: method });
    if (!parsed.success) {
      this.#reply(id, validation(parsed.error));
      return;
    }
    if (this.#pending >= this.#maxPending) {
      this.#reply(
        id,
        new OsqueueError("overloaded", `more than ${this.#maxPending} requests in flight`),
      );
      return;
    }
    this.#pending++;
    this.#execute(id, parsed.data)
      .catch((error) => this.#log(`${this.#label}: request failed: ${String(error)}`))
      .finally(() => {
        this.#pending--;
        if (this.#pending === 0) { for (const wake of this.#idleWaiters.splice(0)) wake(); }
      });
  }

  /**
   * `watch {ids?, types?}`: from now on, every landed commit's job events
   * (completed, failed, dead, cancelled, progress) for those jobs or types
   * (all when both are absent) arrive as `job` notifications. One watch per
   * connection: a new one replaces it; `unwatch` (no params) ends it.
   */
  #watch(id: number | string, params: unknown): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (params === undefined) return void this.#reply(id, undefined, { ok: true });
    const parsed = watchParamsSchema.safeParse(params ?? {});
    if (!parsed.success) return void this.#reply(id, validation(parsed.error));
    if (this.#backend.watch === undefined) {
      return void this.#reply(id, new OsqueueError("method_not_found", "this broker cannot watch"));
    }
    const ids = parsed.data.ids === undefined ? undefined : new Set(parsed.data.ids);
    const types = parsed.data.types === undefined ? undefined : new Set(parsed.data.types);
    const all = ids === undefined && types === undefined;
    this.#reply(id, undefined, { ok: true });
    this.#unwatch = this.#backend.watch((events) => {
      for (const event of events) {
        if (all || ids?.has(event.id) || types?.has(event.type)) {
          this.#notify({ method: "job", params: event });
        }
      }
    });
  }

  /**
   * Starts a graceful shutdown while the socket stays open: new requests get
   * `shutting_down`, parked claims (long-poll and push delivery) are aborted,
   * and requests already taken keep running so their replies still go out.
   * Resolves once no request is in flight; callers bound the wait. Idempotent.
   */
  drain(): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      const reason = new ShuttingDownError("the server is shutting down");
      for (const controller of this.#claimControllers) controller.abort(reason);
      this.#dispatcher.close();
    }
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Cleans up after the socket closed: aborts parked claims, stops timers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#authTimer !== undefined) {
      this.#clock.clearTimeout(this.#authTimer);
      this.#authTimer = undefined;
    }
    for (const controller of this.#claimControllers) controller.abort();
    this.#dispatcher.close();
    this.#unwatch?.();
    this.#unwatch = undefined;
    // Nobody can be answered any more: whoever waits for the drain stops waiting.
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Resolves once all push-delivery claims have settled (late jobs released). */
  settled(): Promise<void> {
    return this.#dispatcher.settled();
  }

  #tooLarge(size?: number): OsqueueError {
    return new OsqueueError(
      "too_large",
      `frame larger than ${this.#maxFrameBytes} bytes`,
      size === undefined ? {} : { data: { bytes: size, limit: this.#maxFrameBytes } },
    );
  }

  #fail(code: number, reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#closeSocket(code, reason);
  }

  #reject(id: number | string): void {
    this.#reply(id, new OsqueueError("unauthorized", "authenticate with hello {token} first"));
    this.#authFailures++;
    if (this.#authFailures >= this.#maxAuthFailures) {
      this.#fail(CLOSE_POLICY_VIOLATION, "too many authentication failures");
    }
  }

  #hello(id: number | string, params: unknown): void {
    const parsed = helloParamsSchema.safeParse(params ?? {});
    if (!parsed.success) {
      this.#reply(id, validation(parsed.error));
      return;
    }
    const { token, clientId } = parsed.data;
    if (clientId !== undefined) this.#label = `ws ${clientId}`;
    if (this.#authenticate !== undefined && token !== undefined) {
      const grant = this.#authenticate(token);
      if (grant === undefined) {
        this.#reject(id);
        return;
      }
      this.#grant = grant;
    }
    if (this.#grant === undefined) {
      this.#reject(id);
      return;
    }
    if (this.#authTimer !== undefined) {
      this.#clock.clearTimeout(this.#authTimer);
      this.#authTimer = undefined;
    }
    const info = this.#backend.leaderInfo();
    const result: HelloResult = { brokerId: info.brokerId, leader: info.leader };
    if (info.leaderUrl !== undefined) result.leaderUrl = info.leaderUrl;
    this.#reply(id, undefined, result);
  }

  #control(id: number | string, method: "subscribe" | "credit" | "unsubscribe", params: unknown) {
    try {
      if (method === "subscribe") {
        const parsed = subscribeParamsSchema.safeParse(params);
        if (!parsed.success) throw validation(parsed.error);
        this.#dispatcher.subscribe(parsed.data);
      } else if (method === "credit") {
        const parsed = creditParamsSchema.safeParse(params);
        if (!parsed.success) throw validation(parsed.error);
        this.#dispatcher.credit(parsed.data.credits);
      } else {
        const parsed = unsubscribeParamsSchema.safeParse(params);
        if (!parsed.success) throw validation(parsed.error);
        this.#dispatcher.unsubscribe();
      }
    } catch (error) {
      this.#reply(id, error);
      return;
    }
    // Reply first, so the client sees `{ok}` before the first `deliver`.
    this.#reply(id, undefined, { ok: true });
    this.#dispatcher.pump();
  }

  async #execute(id: number | string, op: Operation): Promise<void> {
    let controller: AbortController | undefined;
    if (op.op === "claim") {
      controller = new AbortController();
      this.#claimControllers.add(controller);
    }
    try {
      // Parsed once, here at the edge: the broker trusts it (no second validation or copy).
      const result = await this.#backend.request(
        op,
        controller === undefined
          ? { validated: true }
          : { signal: controller.signal, validated: true },
      );
      if (this.#closed || !this.#reply(id, undefined, result)) {
        if (op.op === "claim") {
          const jobs = (result as { jobs: ClaimedJob[] }).jobs;
          if (jobs.length > 0) {
            await releaseJobs({ backend: this.#backend, jobs, log: this.#log });
          }
        }
      }
    } catch (error) {
      if (!(error instanceof OsqueueError)) {
        this.#log(
          `${this.#label}: ${op.op} failed: ${error instanceof Error ? error.stack : error}`,
        );
      }
      this.#reply(id, error);
    } finally {
      if (controller !== undefined) this.#claimControllers.delete(controller);
    }
  }

  /** `false` (and the connection closed) when the peer has not read what it was sent. */
  #roomToSend(): boolean {
    const buffered = this.#bufferedAmount();
    const lagging = buffered > this.#pauseDeliveryBytes;
    if (lagging !== this.#lagging) {
      this.#lagging = lagging;
      this.#log(
        lagging
          ? `${this.#label}: not reading: ${buffered} bytes unread, no jobs pushed to it until it catches up`
          : `${this.#label}: reading again`,
      );
    }
    if (buffered <= this.#maxBufferedBytes) return true;
    this.#log(`${this.#label}: closing a slow consumer: ${buffered} bytes unread`);
    this.#fail(
      CLOSE_TRY_AGAIN_LATER,
      `slow consumer: more than ${this.#maxBufferedBytes} bytes sent and not read`,
    );
    return false;
  }

  #notify(notification: RpcNotification): boolean {
    if (this.#closed || !this.#roomToSend()) return false;
    try {
      return this.#send(JSON.stringify(notification));
    } catch (cause) {
      this.#log(`${this.#label}: send failed: ${cause instanceof Error ? cause.message : cause}`);
      return false;
    }
  }

  /** Sends a result (when `error` is undefined) or an error reply; returns whether it was sent. */
  #reply(id: number | string | null, error: unknown, result?: unknown): boolean {
    if (this.#closed || !this.#roomToSend()) return false;
    let frame: RpcReply;
    if (error === undefined) {
      frame = { id: id as number | string, result: result ?? null };
    } else {
      const wire: WireError = errorToWire(error);
      frame = { id, error: wire };
    }
    try {
      return this.#send(JSON.stringify(frame));
    } catch (cause) {
      this.#log(`${this.#label}: send failed: ${cause instanceof Error ? cause.message : cause}`);
      return false;
    }
  }
}
