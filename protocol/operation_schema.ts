/**
 * The zod schemas that validate operations entering from outside (the
 * WebSocket and REST edges, the broker's untrusted intake). JSON values are
 * checked without recursion (see `json_value.ts`). {@linkcode parseOperation}
 * parses once at the edge, with one format for the issues.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { BackoffPolicy, JsonValue, PushJob } from "./job.ts";
import { copyJsonValue } from "./json_value.ts";
import { LIMITS } from "./limits.ts";
import type { Operation } from "./operations.ts";

const id = z.string().min(1).max(LIMITS.maxIdLength);

/**
 * A JSON value checked and copied without recursion (see `json_value.ts`): at
 * most `MAX_JSON_DEPTH` deep and `maxBytes` long. A recursive schema
 * (`z.json()`) overflows the stack on a few KB of nested brackets.
 */
function jsonSchema(what: string, maxBytes: number): z.ZodType<JsonValue> {
  return z.unknown().transform((value, ctx) => {
    const copied = copyJsonValue(value, { maxBytes });
    if (copied.ok) return copied.value;
    ctx.issues.push({ code: "custom", message: `${what} ${copied.problem}`, input: value });
    return z.NEVER;
  }) as unknown as z.ZodType<JsonValue>;
}

const backoffSchema: z.ZodType<BackoffPolicy> = z.object({
  type: z.enum(["exponential", "fixed"]),
  delayMs: z.number().int().min(0).max(LIMITS.maxLeaseMs),
  maxDelayMs: z.number().int().min(0).max(30 * 24 * 3600_000).optional(),
  jitter: z.number().min(0).max(1).optional(),
});

const pushJobSchema: z.ZodType<PushJob> = z.object({
  type: z.string().min(1).max(LIMITS.maxTypeLength),
  payload: jsonSchema("payload", LIMITS.maxPayloadBytes),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  delayMs: z.number().int().min(0).optional(),
  runAt: z.number().int().min(0).optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  backoff: backoffSchema.optional(),
  idempotencyKey: id.optional(),
  dependsOn: z.array(z.union([id, z.number().int().min(0).max(LIMITS.maxPushBatch)])).min(1)
    .max(100).optional(),
});

const typeList = z.array(z.string().min(1).max(LIMITS.maxTypeLength)).min(1).max(100);

/** Validates any {@linkcode Operation} (a discriminated union on `op`). */
export const operationSchema: z.ZodType<Operation> = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("push"),
    jobs: z.array(pushJobSchema).min(1).max(LIMITS.maxPushBatch),
  }),
  z.object({
    op: z.literal("claim"),
    workerId: id,
    types: z.array(z.string().min(1).max(LIMITS.maxTypeLength)).max(100).optional(),
    max: z.number().int().min(1).max(LIMITS.maxClaimBatch).optional(),
    leaseMs: z.number().int().min(1).max(LIMITS.maxLeaseMs).optional(),
    waitMs: z.number().int().min(0).max(LIMITS.maxWaitMs).optional(),
  }),
  z.object({
    op: z.literal("heartbeat"),
    jobId: id,
    leaseToken: id,
    leaseMs: z.number().int().min(1).max(LIMITS.maxLeaseMs).optional(),
  }),
  z.object({
    op: z.literal("complete"),
    jobId: id,
    leaseToken: id,
    result: jsonSchema("result", LIMITS.maxResultBytes).optional(),
  }),
  z.object({
    op: z.literal("fail"),
    jobId: id,
    leaseToken: id,
    error: z.string().transform((s) => s.slice(0, LIMITS.maxErrorLength)),
    retry: z.boolean().optional(),
  }),
  z.object({ op: z.literal("release"), jobId: id, leaseToken: id }),
  z.object({
    op: z.literal("progress"),
    jobId: id,
    leaseToken: id,
    value: jsonSchema("progress", LIMITS.maxProgressBytes),
  }),
  z.object({ op: z.literal("cancel"), jobId: id }),
  z.object({ op: z.literal("get"), jobId: id }),
  z.object({ op: z.literal("stats") }),
  z.object({
    op: z.literal("list"),
    state: z.enum(["ready", "delayed", "active", "completed", "dead", "cancelled"]),
    type: z.string().min(1).max(LIMITS.maxTypeLength).optional(),
    cursor: id.optional(),
    limit: z.number().int().min(1).max(LIMITS.maxListLimit).optional(),
  }),
  z.object({
    op: z.literal("retry"),
    jobId: id.optional(),
    type: z.string().min(1).max(LIMITS.maxTypeLength).optional(),
  }).refine((o) => (o.jobId === undefined) !== (o.type === undefined), {
    message: "retry: give exactly one of jobId and type",
  }),
  z.object({ op: z.literal("delete"), jobId: id, force: z.boolean().optional() }),
  z.object({ op: z.literal("promote"), jobId: id }),
  z.object({ op: z.literal("pause"), types: typeList }),
  z.object({ op: z.literal("resume"), types: typeList }),
  z.object({
    op: z.literal("limit"),
    type: z.string().min(1).max(LIMITS.maxTypeLength),
    maxPerWindow: z.number().int().min(1).max(1_000_000_000).optional(),
    windowMs: z.number().int().min(1).max(30 * 24 * 3600_000).optional(),
    maxActive: z.number().int().min(1).max(1_000_000_000).optional(),
  }).refine((o) => o.windowMs === undefined || o.maxPerWindow !== undefined, {
    message: "limit: windowMs needs maxPerWindow",
  }),
  z.object({
    op: z.literal("schedule"),
    name: z.string().min(1).max(LIMITS.maxIdLength),
    cron: z.string().min(1).max(256).optional(),
    everyMs: z.number().int().min(1000).max(366 * 24 * 3600_000).optional(),
    timezone: z.string().min(1).max(64).optional(),
    job: pushJobSchema,
    missed: z.enum(["skip", "runOnce", "catchUp"]).optional(),
    maxCatchUp: z.number().int().min(1).max(10_000).optional(),
  }).refine((o) => (o.cron === undefined) !== (o.everyMs === undefined), {
    message: "schedule: give exactly one of cron and everyMs",
  }),
  z.object({ op: z.literal("unschedule"), name: z.string().min(1).max(LIMITS.maxIdLength) }),
  z.object({ op: z.literal("schedules") }),
]) as z.ZodType<Operation>;

/**
 * The issues of a failed parse on one line, `path: message; …`, each path
 * without its first `skipPath` segments (for a value that was wrapped before
 * parsing).
 */
export function formatIssues(error: z.ZodError, skipPath = 0): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.slice(skipPath);
      return (path.length > 0 ? `${path.join(".")}: ` : "") + issue.message;
    })
    .join("; ");
}

/**
 * Parses `value` once, at the edge, into a trusted {@linkcode Operation} (a
 * fresh copy: payloads and results checked without recursion); throws a
 * `ValidationError` listing the issues otherwise.
 */
export function parseOperation(value: unknown): Operation {
  const parsed = operationSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(formatIssues(parsed.error));
  return parsed.data;
}
