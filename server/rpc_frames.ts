/**
 * Reading the frames of a JSON-RPC connection: size limits, JSON, batches, the
 * request envelope, and the error replies for frames that fail them (with the
 * request's id salvaged when possible); the method names; the close reason
 * for a fatal push-delivery error.
 *
 * @module
 */
import { z } from "zod";
import { MAX_BATCH_REQUESTS, type RpcRequest } from "../protocol/wire.ts";
import { BadRequestError, type OsqueueError, TooLargeError, ValidationError } from "../errors.ts";
import { formatIssues } from "../protocol/operation_schema.ts";
import { rpcRequestSchema } from "../protocol/wire_schemas.ts";

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

/** The params of `unsubscribe`: none, or an empty object. */
export const unsubscribeParamsSchema: z.ZodType<unknown> = z.union([z.object({}), z.undefined()]);

/** A `validation` error listing the zod issues of `error`. */
export function validation(error: z.ZodError): OsqueueError {
  return new ValidationError(formatIssues(error));
}

/** `params` checked with `schema`; a `ValidationError` listing the issues otherwise. */
export function parseParams<T>(schema: z.ZodType<T>, params: unknown): T {
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw validation(parsed.error);
  return parsed.data;
}

/** Whether `value` is a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
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

/** One request of an incoming frame, read: the request, or the error to reply with (to `id`, `null` when unknown). */
export type FrameRead =
  | { ok: true; request: RpcRequest }
  | { ok: false; id: number | string | null; error: OsqueueError };

/**
 * Reads one incoming frame into its requests: one for a request object, one
 * per element for a batch (a JSON array of 1 to {@linkcode MAX_BATCH_REQUESTS}
 * requests). Binary frames, frames over `maxFrameBytes`, invalid JSON, bad
 * batches and bad request envelopes give the error to reply with; a bad
 * element of a batch spoils only itself.
 */
export function readFrame(data: unknown, maxFrameBytes: number): FrameRead[] {
  if (typeof data !== "string") {
    const size = frameBytes(data);
    const error = size > maxFrameBytes
      ? tooLarge(maxFrameBytes, size)
      : new BadRequestError("binary frames are not supported");
    return [{ ok: false, id: null, error }];
  }
  if (exceedsBytes(data, maxFrameBytes)) {
    return [{ ok: false, id: null, error: tooLarge(maxFrameBytes) }];
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return [{ ok: false, id: null, error: new BadRequestError("frame is not valid JSON") }];
  }
  if (!Array.isArray(value)) return [readRequest(value)];
  if (value.length === 0 || value.length > MAX_BATCH_REQUESTS) {
    const error = new BadRequestError(
      `a batch frame carries 1 to ${MAX_BATCH_REQUESTS} requests, not ${value.length}`,
    );
    return [{ ok: false, id: null, error }];
  }
  return value.map(readRequest);
}

/** Checks one request envelope. */
function readRequest(value: unknown): FrameRead {
  const envelope = rpcRequestSchema.safeParse(value);
  if (!envelope.success) {
    const error = new BadRequestError(`bad request frame: ${formatIssues(envelope.error)}`);
    return { ok: false, id: salvageId(value), error };
  }
  return { ok: true, request: envelope.data };
}

function tooLarge(limit: number, size?: number): OsqueueError {
  return new TooLargeError(
    `frame larger than ${limit} bytes`,
    size === undefined ? {} : { data: { bytes: size, limit } },
  );
}
