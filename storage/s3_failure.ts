/**
 * How the S3 store reads a failed request: the SDK's errors sorted into what
 * they mean for a retry (see the table in `s3_store.ts`).
 *
 * @module
 */

/** How one failed attempt is to be understood. */
export type AttemptFailure =
  /** 412 or 409: the condition failed, nothing was written. */
  | "conflict"
  /** 404 `NoSuchKey`. */
  | "missing"
  /** The server (or the network) says the request was not processed; retrying is safe. */
  | "not_processed"
  /** The request may or may not have been processed. */
  | "uncertain"
  /** The caller's signal fired. */
  | "aborted"
  /** The request is wrong or the store misconfigured; retrying will not help. */
  | "rejected";

/** Error codes that are rejected before anything could have been written. */
const NOT_PROCESSED_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
  "TooManyRequests",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestTimeout",
]);
/** Socket errors raised before the request reached a server. */
const NOT_CONNECTED_ERRNOS = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
/** SDK errors raised before anything was sent (configuration). */
const CONFIG_ERROR_NAMES = new Set(["CredentialsProviderError", "TokenProviderError"]);
/** Deno's errors for a missing permission (`--allow-net`, `--allow-sys=osRelease`…): nothing was sent. */
const PERMISSION_ERROR_NAMES = new Set(["NotCapable", "PermissionDenied"]);

/** Marks an attempt that ran out of time. */
export class AttemptTimeout extends Error {
  /** An error saying the attempt took longer than `ms` milliseconds. */
  constructor(ms: number) {
    super(`S3 request timed out after ${ms} ms`);
    this.name = "AttemptTimeout";
  }
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The HTTP status an SDK error carries, if any. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

function nameOf(error: unknown): string {
  const name = (error as SdkErrorShape | null)?.name;
  return typeof name === "string" ? name : "";
}

/**
 * Says how one failed attempt is to be understood from the SDK's error;
 * `aborted` tells whether the caller's signal fired.
 */
export function classify(error: unknown, aborted: boolean): AttemptFailure {
  if (error instanceof AttemptTimeout) return "uncertain";
  if (aborted) return "aborted";
  const status = statusOf(error);
  const name = nameOf(error);
  if (PERMISSION_ERROR_NAMES.has(name)) return "rejected";
  if (status !== undefined) {
    if (status === 412) return "conflict";
    if (status === 409) return name === "ConditionalRequestConflict" ? "conflict" : "not_processed";
    if (status === 404 && name === "NoSuchKey") return "missing";
    if (status === 429 || NOT_PROCESSED_CODES.has(name)) return "not_processed";
    if (status === 501) return "rejected";
    if (status >= 500) return "uncertain";
    if (status >= 300) return "rejected";
    // A 2xx that failed to parse: the request was processed.
    return "uncertain";
  }
  const errno = (error as SdkErrorShape | null)?.code;
  if (typeof errno === "string" && NOT_CONNECTED_ERRNOS.has(errno)) return "not_processed";
  if (CONFIG_ERROR_NAMES.has(name)) return "rejected";
  const message = (error as SdkErrorShape | null)?.message;
  if (typeof message === "string" && /region is missing/i.test(message)) return "rejected";
  return "uncertain";
}

/** A one-line account of an SDK error: HTTP status, error name, errno and message. */
export function describe(error: unknown): string {
  const status = statusOf(error);
  const name = nameOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as SdkErrorShape | null)?.code;
  if (PERMISSION_ERROR_NAMES.has(name)) return `missing permission: ${message}`;
  const parts = [
    status === undefined ? "" : `HTTP ${status}`,
    name === "" || name === "Error" ? "" : name,
    typeof code === "string" ? code : "",
    message === name || message === "UnknownError" ? "" : message,
  ].filter((part) => part !== "");
  return parts.join(" ");
}
