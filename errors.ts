/**
 * Typed errors with stable codes. Every error osqueue raises on purpose is an
 * {@linkcode OsqueueError} whose `code` crosses the wire unchanged, so a
 * remote client can rebuild the same class with {@linkcode errorFromWire}.
 *
 * This module is pure: no `Deno.*`, no `node:` imports (the worker client
 * uses it in browsers).
 *
 * @module
 */

/** Every stable error code osqueue uses. */
export type ErrorCode =
  // storage contract
  | "conflict"
  | "not_found"
  | "unavailable"
  | "invalid"
  | "ambiguous"
  // queue and broker
  | "lease_lost"
  | "job_not_found"
  | "not_leader"
  | "overloaded"
  | "shutting_down"
  | "validation"
  | "job_failed"
  // transport
  | "unauthorized"
  | "forbidden"
  | "unsupported_media_type"
  | "too_large"
  | "bad_request"
  | "method_not_found"
  | "method_not_allowed"
  | "timeout"
  | "disconnected"
  | "internal";

/** The JSON form of an error on the wire: `{code, message, data?}`. */
export interface WireError {
  /**
   * One of {@linkcode ErrorCode}. A peer may send a code this version does not
   * know: {@linkcode errorFromWire} turns it into an `internal` error.
   */
  code: string;
  /** Human-readable explanation. */
  message: string;
  /** Optional structured detail (e.g. `{leaderUrl}` for `not_leader`). */
  data?: Record<string, unknown>;
}

/** Options shared by every {@linkcode OsqueueError}. */
export interface OsqueueErrorOptions {
  /** Structured detail that travels with the error. */
  data?: Record<string, unknown>;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of every error osqueue raises on purpose. */
export class OsqueueError extends Error {
  /** Stable, machine-readable code (a closed set: {@linkcode ErrorCode}). */
  readonly code: ErrorCode;
  /** Structured detail that travels with the error. */
  readonly data?: Record<string, unknown>;

  /** Builds an error with a code, a message and optional detail. */
  constructor(code: ErrorCode, message: string, options: OsqueueErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OsqueueError";
    this.code = code;
    if (options.data !== undefined) this.data = options.data;
  }

  /** Whether retrying the same request later may succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** The wire form of this error. */
  toJSON(): WireError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

const RETRYABLE = new Set<ErrorCode>([
  "unavailable",
  "ambiguous",
  "overloaded",
  "timeout",
  "disconnected",
  "not_leader",
]);

/** A conditional write lost: the object changed (or exists, or is missing) since it was read. */
export class ConflictError extends OsqueueError {
  /** Builds a conflict error. */
  constructor(message = "condition failed: the object changed", options?: OsqueueErrorOptions) {
    super("conflict", message, options);
    this.name = "ConflictError";
  }
}

/** The object, or the job, does not exist. */
export class NotFoundError extends OsqueueError {
  /** Builds a not-found error. */
  constructor(message = "not found", options?: OsqueueErrorOptions) {
    super("not_found", message, options);
    this.name = "NotFoundError";
  }
}

/** Storage (or a peer) is temporarily unavailable; retrying later may work. */
export class UnavailableError extends OsqueueError {
  /** Builds an unavailable error. */
  constructor(message = "temporarily unavailable", options?: OsqueueErrorOptions) {
    super("unavailable", message, options);
    this.name = "UnavailableError";
  }
}

/** The request itself is invalid (a bad key, a bad argument); retrying will not help. */
export class InvalidError extends OsqueueError {
  /** Builds an invalid-request error. */
  constructor(message = "invalid request", options?: OsqueueErrorOptions) {
    super("invalid", message, options);
    this.name = "InvalidError";
  }
}

/**
 * A conditional write whose outcome is unknown (a timeout, a 5xx, a 412 after a
 * retry): the caller must re-read to learn whether it landed.
 */
export class AmbiguousWriteError extends OsqueueError {
  /** Builds an ambiguous-write error. */
  constructor(message = "write outcome unknown", options?: OsqueueErrorOptions) {
    super("ambiguous", message, options);
    this.name = "AmbiguousWriteError";
  }
}

/** A heartbeat, complete or fail presented a lease token that is stale or belongs to someone else. */
export class LeaseLostError extends OsqueueError {
  /** Builds a lease-lost error. */
  constructor(message = "lease lost", options?: OsqueueErrorOptions) {
    super("lease_lost", message, options);
    this.name = "LeaseLostError";
  }
}

/** No job with that id is known to the queue. */
export class JobNotFoundError extends OsqueueError {
  /** Builds a job-not-found error. */
  constructor(message = "job not found", options?: OsqueueErrorOptions) {
    super("job_not_found", message, options);
    this.name = "JobNotFoundError";
  }
}

/** This broker is not (or no longer) the leader; `data.leaderUrl` names the one that is, if known. */
export class NotLeaderError extends OsqueueError {
  /** Builds a not-leader error. */
  constructor(message = "not the leader", options?: OsqueueErrorOptions) {
    super("not_leader", message, options);
    this.name = "NotLeaderError";
  }

  /** The advertised URL of the current leader, when known. */
  get leaderUrl(): string | undefined {
    const url = this.data?.leaderUrl;
    return typeof url === "string" ? url : undefined;
  }
}

/** A bounded mailbox (or a worker) is full: back off and retry. */
export class OverloadedError extends OsqueueError {
  /** Builds an overloaded error. */
  constructor(message = "overloaded", options?: OsqueueErrorOptions) {
    super("overloaded", message, options);
    this.name = "OverloadedError";
  }
}

/** The actor or broker is stopping and takes no more requests. */
export class ShuttingDownError extends OsqueueError {
  /** Builds a shutting-down error. */
  constructor(message = "shutting down", options?: OsqueueErrorOptions) {
    super("shutting_down", message, options);
    this.name = "ShuttingDownError";
  }
}

/** A payload or message failed schema validation. */
export class ValidationError extends OsqueueError {
  /** Builds a validation error. */
  constructor(message = "validation failed", options?: OsqueueErrorOptions) {
    super("validation", message, options);
    this.name = "ValidationError";
  }
}

/**
 * The caller is authenticated but its token's role (or job types) does not
 * allow this operation, or the request came from a place the server does not
 * accept (a foreign `Origin`, an unexpected `Host`). Retrying will not help.
 */
export class ForbiddenError extends OsqueueError {
  /** Builds a forbidden error. */
  constructor(message = "forbidden", options?: OsqueueErrorOptions) {
    super("forbidden", message, options);
    this.name = "ForbiddenError";
  }
}

/** A request timed out waiting for its reply. */
export class TimeoutError extends OsqueueError {
  /** Builds a timeout error. */
  constructor(message = "timed out", options?: OsqueueErrorOptions) {
    super("timeout", message, options);
    this.name = "TimeoutError";
  }
}

/** A job waited for (`JobHandle.result`) died or was cancelled; `data` has its `state` and `lastError`. */
export class JobFailedError extends OsqueueError {
  /** Builds a job-failed error. */
  constructor(message = "job failed", options?: OsqueueErrorOptions) {
    super("job_failed", message, options);
    this.name = "JobFailedError";
  }
}

/** The request needs a valid token (a bearer header, or `hello {token}` on a WebSocket). */
export class UnauthorizedError extends OsqueueError {
  /** Builds an unauthorized error. */
  constructor(message = "unauthorized", options?: OsqueueErrorOptions) {
    super("unauthorized", message, options);
    this.name = "UnauthorizedError";
  }
}

/** A request body came with a content type the server does not take (it takes JSON). */
export class UnsupportedMediaTypeError extends OsqueueError {
  /** Builds an unsupported-media-type error. */
  constructor(message = "unsupported media type", options?: OsqueueErrorOptions) {
    super("unsupported_media_type", message, options);
    this.name = "UnsupportedMediaTypeError";
  }
}

/** A frame or request body is larger than the server accepts; `data` may hold `{bytes, limit}`. */
export class TooLargeError extends OsqueueError {
  /** Builds a too-large error. */
  constructor(message = "too large", options?: OsqueueErrorOptions) {
    super("too_large", message, options);
    this.name = "TooLargeError";
  }
}

/** A malformed request: not JSON, a bad frame envelope, a bad id, a binary frame. */
export class BadRequestError extends OsqueueError {
  /** Builds a bad-request error. */
  constructor(message = "bad request", options?: OsqueueErrorOptions) {
    super("bad_request", message, options);
    this.name = "BadRequestError";
  }
}

/** The RPC method does not exist (or this broker cannot serve it). */
export class MethodNotFoundError extends OsqueueError {
  /** Builds a method-not-found error. */
  constructor(message = "method not found", options?: OsqueueErrorOptions) {
    super("method_not_found", message, options);
    this.name = "MethodNotFoundError";
  }
}

/** The HTTP method is not allowed on this route (the reply's `allow` header lists those that are). */
export class MethodNotAllowedError extends OsqueueError {
  /** Builds a method-not-allowed error. */
  constructor(message = "method not allowed", options?: OsqueueErrorOptions) {
    super("method_not_allowed", message, options);
    this.name = "MethodNotAllowedError";
  }
}

/** The connection was lost (or closed) before the request was answered: it may or may not have run. */
export class DisconnectedError extends OsqueueError {
  /** Builds a disconnected error. */
  constructor(message = "disconnected", options?: OsqueueErrorOptions) {
    super("disconnected", message, options);
    this.name = "DisconnectedError";
  }
}

/** An unexpected failure inside osqueue (a bug, or a peer's internal error). */
export class InternalError extends OsqueueError {
  /** Builds an internal error. */
  constructor(message = "internal error", options?: OsqueueErrorOptions) {
    super("internal", message, options);
    this.name = "InternalError";
  }
}

/** Every {@linkcode ErrorCode}'s class, by code: each code crosses the wire as one class. */
const CLASSES: Record<
  ErrorCode,
  new (message?: string, options?: OsqueueErrorOptions) => OsqueueError
> = {
  conflict: ConflictError,
  not_found: NotFoundError,
  unavailable: UnavailableError,
  invalid: InvalidError,
  ambiguous: AmbiguousWriteError,
  lease_lost: LeaseLostError,
  job_not_found: JobNotFoundError,
  not_leader: NotLeaderError,
  overloaded: OverloadedError,
  shutting_down: ShuttingDownError,
  validation: ValidationError,
  forbidden: ForbiddenError,
  timeout: TimeoutError,
  job_failed: JobFailedError,
  unauthorized: UnauthorizedError,
  unsupported_media_type: UnsupportedMediaTypeError,
  too_large: TooLargeError,
  bad_request: BadRequestError,
  method_not_found: MethodNotFoundError,
  method_not_allowed: MethodNotAllowedError,
  disconnected: DisconnectedError,
  internal: InternalError,
};

/** Whether `code` is one of the {@linkcode ErrorCode}s this version knows. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(CLASSES, code);
}

/**
 * Rebuilds the typed error a peer sent (`{code, message, data?}`). A code this
 * version does not know (from a newer peer, or a broken one) becomes an
 * {@linkcode InternalError} that names the code in its message and keeps it as
 * `data.wireCode`, so `code` is always an {@linkcode ErrorCode}.
 */
export function errorFromWire(wire: WireError): OsqueueError {
  if (isErrorCode(wire.code)) {
    const options: OsqueueErrorOptions = wire.data === undefined ? {} : { data: wire.data };
    return new CLASSES[wire.code](wire.message, options);
  }
  return new InternalError(`peer error "${wire.code}": ${wire.message}`, {
    data: { ...wire.data, wireCode: wire.code },
  });
}

/** Any thrown value as an {@linkcode OsqueueError}: itself if it is one, else an {@linkcode InternalError}. */
export function toOsqueueError(error: unknown): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError(message, { cause: error });
}

/** Turns anything thrown into the wire form, hiding non-osqueue internals behind `internal`. */
export function errorToWire(error: unknown): WireError {
  if (error instanceof OsqueueError) return error.toJSON();
  const message = error instanceof Error ? error.message : String(error);
  return { code: "internal", message };
}
