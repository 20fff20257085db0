/**
 * One JSON-RPC connection as the broker server sees it, independent of the
 * socket: frame checks (size, JSON, envelope, params), authentication,
 * concurrent request handling with a cap, and push delivery.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import {
  InternalError,
  MethodNotFoundError,
  OsqueueError,
  OverloadedError,
  ShuttingDownError,
  UnauthorizedError,
  ValidationError,
} from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { parseOperation } from "../protocol/operation_schema.ts";
import type { ClaimedJob, Operation } from "../protocol/operations.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  type HelloResult,
  PROTOCOL_VERSION,
  type RpcRequest,
} from "../protocol/wire.ts";
import {
  creditParamsSchema,
  helloParamsSchema,
  subscribeParamsSchema,
  watchParamsSchema,
} from "../protocol/wire_schemas.ts";
import { type Authenticator, authorize, type Grant, OPEN_GRANT } from "./auth.ts";
import { PushDispatcher } from "./dispatcher.ts";
import { releaseJobs } from "./release_jobs.ts";
import {
  closeReason,
  isPlainObject,
  parseParams,
  QUEUE_METHODS,
  readFrame,
  unsubscribeParamsSchema,
  validation,
} from "./rpc_frames.ts";
import { RpcOutbox } from "./rpc_outbox.ts";
import {
  CLOSE_POLICY_VIOLATION,
  CLOSE_SERVICE_RESTART,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_MAX_AUTH_FAILURES,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_PENDING_PER_CONNECTION,
  DEFAULT_PAUSE_DELIVERY_BYTES,
  type RpcSessionOptions,
} from "./rpc_session_options.ts";

/** Largest batch frame sent to a client, in UTF-16 units of its text. */
const BATCH_FRAME_CHARS = 256 * 1024;

/**
 * The server side of one JSON-RPC connection. Feed it frames with
 * {@linkcode RpcSession.handleFrame}; call {@linkcode RpcSession.close} when
 * the socket closes.
 */
export class RpcSession {
  #backend: QueueBackend;
  #unwatch: (() => void) | undefined;
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
  #outbox: RpcOutbox;
  /** Whether the client asked for an empty batch after each turn that read its frames (`hello {ack}`). */
  #ackFrames = false;

  /** Creates a session; with a token check and no prior authentication, starts the auth timer. */
  constructor(options: RpcSessionOptions) {
    this.#backend = options.backend;
    this.#closeSocket = options.close;
    this.#authenticate = options.authenticate;
    this.#grant = options.authenticate === undefined ? OPEN_GRANT : options.grant;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_PER_CONNECTION;
    this.#maxAuthFailures = options.maxAuthFailures ?? DEFAULT_MAX_AUTH_FAILURES;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.#label = options.label ?? "ws";
    const bufferedAmount = options.bufferedAmount ?? (() => 0);
    const pauseDeliveryBytes = options.pauseDeliveryBytes ?? DEFAULT_PAUSE_DELIVERY_BYTES;
    this.#outbox = new RpcOutbox({
      send: options.send,
      bufferedAmount,
      pauseDeliveryBytes,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      closed: () => this.#closed,
      fail: (code, reason) => this.#fail(code, reason),
      log: this.#log,
      label: () => this.#label,
    });
    this.#dispatcher = new PushDispatcher({
      keepingUp: () => bufferedAmount() <= pauseDeliveryBytes,
      backend: this.#backend,
      deliver: (jobs) =>
        this.#outbox.notify(
          { method: "deliver", params: { jobs } },
          () => void releaseJobs({ backend: this.#backend, jobs, log: this.#log }),
        ),
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
      this.#outbox.reply(
        null,
        new InternalError(`the broker could not handle this frame: ${String(error)}`),
      );
    }
  }

  #handleFrame(data: unknown): void {
    if (this.#closed) return;
    for (const read of readFrame(data, this.#maxFrameBytes)) {
      if (this.#closed) return;
      if (read.ok) this.#handleRequest(read.request);
      else this.#outbox.reply(read.id, read.error);
    }
    if (this.#ackFrames) this.#outbox.nudge();
  }

  #handleRequest(request: RpcRequest): void {
    const { id, method } = request;
    let params = request.params;
    if (method === "ping") {
      // Answered before authentication too: it tells nothing and never touches
      // the broker; the auth timeout still closes an unauthenticated socket.
      this.#outbox.reply(id, undefined, { pong: true });
      return;
    }
    if (this.#draining) {
      this.#outbox.reply(id, new ShuttingDownError("the server is shutting down"));
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
      this.#outbox.reply(id, new MethodNotFoundError(`unknown method: ${method}`));
      return;
    }
    try {
      params = authorize(grant, method, params);
    } catch (error) {
      this.#outbox.reply(id, error);
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
      this.#outbox.reply(id, new ValidationError("params must be an object"));
      return;
    }
    let operation: Operation;
    try {
      operation = parseOperation({ ...params, op: method });
    } catch (error) {
      this.#outbox.reply(id, error);
      return;
    }
    if (this.#pending >= this.#maxPending) {
      this.#outbox.reply(
        id,
        new OverloadedError(`more than ${this.#maxPending} requests in flight`),
      );
      return;
    }
    this.#pending++;
    this.#execute(id, operation)
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
    if (params === undefined) return void this.#outbox.reply(id, undefined, { ok: true });
    const parsed = watchParamsSchema.safeParse(params ?? {});
    if (!parsed.success) return void this.#outbox.reply(id, validation(parsed.error));
    if (this.#backend.watch === undefined) {
      return void this.#outbox.reply(id, new MethodNotFoundError("this broker cannot watch"));
    }
    const ids = parsed.data.ids === undefined ? undefined : new Set(parsed.data.ids);
    const types = parsed.data.types === undefined ? undefined : new Set(parsed.data.types);
    const all = ids === undefined && types === undefined;
    this.#outbox.reply(id, undefined, { ok: true });
    this.#unwatch = this.#backend.watch((events) => {
      for (const event of events) {
        if (all || ids?.has(event.id) || types?.has(event.type)) {
          this.#outbox.notify({ method: "job", params: event });
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

  #fail(code: number, reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#closeSocket(code, reason);
  }

  #reject(id: number | string): void {
    this.#outbox.reply(
      id,
      new UnauthorizedError("authenticate with hello {token} first"),
    );
    this.#authFailures++;
    if (this.#authFailures >= this.#maxAuthFailures) {
      this.#fail(CLOSE_POLICY_VIOLATION, "too many authentication failures");
    }
  }

  #hello(id: number | string, params: unknown): void {
    const parsed = helloParamsSchema.safeParse(params ?? {});
    if (!parsed.success) {
      this.#outbox.reply(id, validation(parsed.error));
      return;
    }
    const { token, clientId, protocol, ack } = parsed.data;
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
    const result: HelloResult = {
      brokerId: info.brokerId,
      leader: info.leader,
      protocol: PROTOCOL_VERSION,
      maxFrameBytes: this.#maxFrameBytes,
    };
    if (info.leaderUrl !== undefined) result.leaderUrl = info.leaderUrl;
    this.#outbox.reply(id, undefined, result);
    // The hello reply itself still leaves alone: the client learns of batches from it.
    if ((protocol ?? 1) >= 2) {
      this.#outbox.batchFrames(BATCH_FRAME_CHARS);
      this.#ackFrames = ack === true;
    }
  }

  #control(id: number | string, method: "subscribe" | "credit" | "unsubscribe", params: unknown) {
    try {
      if (method === "subscribe") {
        this.#dispatcher.subscribe(parseParams(subscribeParamsSchema, params));
      } else if (method === "credit") {
        this.#dispatcher.credit(parseParams(creditParamsSchema, params).credits);
      } else {
        parseParams(unsubscribeParamsSchema, params);
        this.#dispatcher.unsubscribe();
      }
    } catch (error) {
      this.#outbox.reply(id, error);
      return;
    }
    // Reply first, so the client sees `{ok}` before the first `deliver`.
    this.#outbox.reply(id, undefined, { ok: true });
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
      const jobs = op.op === "claim" ? (result as { jobs: ClaimedJob[] }).jobs : [];
      // Claimed jobs whose reply cannot reach the worker go back to the queue now.
      const release = () => releaseJobs({ backend: this.#backend, jobs, log: this.#log });
      const dropped = jobs.length === 0 ? undefined : () => void release();
      if (this.#closed || !this.#outbox.reply(id, undefined, result, dropped)) {
        if (jobs.length > 0) await release();
      }
    } catch (error) {
      if (!(error instanceof OsqueueError)) {
        this.#log(
          `${this.#label}: ${op.op} failed: ${error instanceof Error ? error.stack : error}`,
        );
      }
      this.#outbox.reply(id, error);
    } finally {
      if (controller !== undefined) this.#claimControllers.delete(controller);
    }
  }
}
