/**
 * A typed job registry: one schema per job type, shared by producers
 * (validated at submit) and workers (validated at receipt, handlers typed from
 * it). Any {@link https://standardschema.dev | Standard Schema} works: zod 4,
 * `zod/mini` (much smaller in a browser bundle), valibot, ArkType.
 *
 * @example Define jobs once, submit typed payloads
 * ```ts ignore
 * import { z } from "zod";
 * import { connectClient, createProducer, defineJobs } from "@osqueue/osqueue/worker";
 *
 * export const jobs = defineJobs({
 *   "email:send": z.object({ to: z.email(), subject: z.string() }),
 *   "report:generate": z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }),
 * });
 *
 * const producer = createProducer(connectClient({ url: "http://localhost:8080" }), jobs);
 * await producer.submit("email:send", { to: "a@example.com", subject: "hi" });
 * ```
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import type { JsonValue, OperationResults, PushJob } from "../protocol/operations.ts";
import {
  parsePayload,
  type PayloadIssue,
  type PayloadSchema,
  type SchemaInput,
  type SchemaOutput,
} from "../protocol/payload_schema.ts";

export type { PayloadIssue, PayloadSchema };

/** One schema per job type (any Standard Schema: zod, `zod/mini`, valibot…). */
export type JobSchemas = Record<string, PayloadSchema>;

/** The job type names of a registry's schemas. */
export type JobType<S extends JobSchemas> = keyof S & string;

/** What a producer passes for job type `K` (the schema's input). */
export type JobInput<S extends JobSchemas, K extends JobType<S>> = SchemaInput<S[K]>;

/** What a handler receives for job type `K` (the schema's output). */
export type JobPayload<S extends JobSchemas, K extends JobType<S>> = SchemaOutput<S[K]>;

/** A set of job types with their payload schemas. */
export interface JobRegistry<S extends JobSchemas> {
  /** The schemas, by job type. */
  readonly schemas: Readonly<S>;
  /** The job types, in definition order. */
  readonly types: readonly JobType<S>[];
  /** Whether `type` is one of this registry's job types. */
  has(type: string): type is JobType<S>;
  /**
   * Validates a payload for `type` and returns the schema's output.
   * Throws {@linkcode ValidationError} naming the type and each bad field
   * (`data: {type, issues}`), also for an unknown type.
   */
  parse<K extends JobType<S>>(type: K, payload: unknown): JobPayload<S, K>;
}

/**
 * Defines a job registry from one schema per job type.
 *
 * @example
 * ```ts ignore
 * const jobs = defineJobs({ "email:send": z.object({ to: z.email() }) });
 * jobs.parse("email:send", { to: "nope" }); // throws ValidationError: … to: Invalid email address
 * ```
 */
export function defineJobs<S extends JobSchemas>(schemas: S): JobRegistry<S> {
  const own = { ...schemas } as S;
  const types = Object.freeze(Object.keys(own)) as readonly JobType<S>[];
  const has = (type: string): type is JobType<S> => Object.hasOwn(own, type);
  return Object.freeze({
    schemas: own,
    types,
    has,
    parse<K extends JobType<S>>(type: K, payload: unknown): JobPayload<S, K> {
      if (!has(type)) {
        throw new ValidationError(
          `unknown job type "${type}" (known: ${types.map((t) => `"${t}"`).join(", ")})`,
          { data: { type, issues: [] } },
        );
      }
      const parsed = parsePayload(own[type], payload);
      if (parsed.ok) return parsed.value as JobPayload<S, K>;
      const issues = parsed.issues;
      const detail = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
      throw new ValidationError(`invalid payload for job type "${type}": ${detail}`, {
        data: { type, issues },
      });
    },
  });
}

/** Push options a producer may add to a job (everything but type and payload). */
export type SubmitOptions = Omit<PushJob, "type" | "payload">;

/** One job of a {@linkcode Producer.submitMany} batch. */
export type SubmitItem<S extends JobSchemas> = {
  [K in JobType<S>]: { type: K; payload: JobInput<S, K>; options?: SubmitOptions };
}[JobType<S>];

/** What a producer needs from a client. */
export interface ProducerClient {
  /** Enqueues jobs (see {@linkcode OsqueueClient.push}). */
  push(jobs: PushJob[]): Promise<OperationResults["push"]>;
}

/** The reply for one submitted job. */
export interface SubmitResult {
  /** The job's id. */
  id: string;
  /** True when the idempotency key was already known (the first job's id is returned). */
  duplicate: boolean;
}

/** A typed producer bound to a registry. */
export interface Producer<S extends JobSchemas> {
  /** Validates `payload` against the schema of `type`, then pushes the job. */
  submit<K extends JobType<S>>(
    type: K,
    payload: JobInput<S, K>,
    options?: SubmitOptions,
  ): Promise<SubmitResult>;
  /** Validates every job, then pushes them all in one request (nothing is pushed if one is invalid). */
  submitMany(items: SubmitItem<S>[]): Promise<SubmitResult[]>;
}

function toPushJob<S extends JobSchemas>(
  jobs: JobRegistry<S>,
  type: JobType<S>,
  payload: unknown,
  options: SubmitOptions | undefined,
): PushJob {
  jobs.parse(type, payload);
  // The input (not the parsed output) travels: workers parse it again, so
  // transforms and defaults run exactly once, at receipt.
  return { ...options, type, payload: payload as JsonValue };
}

/**
 * Creates a producer that validates payloads with `jobs` before pushing them
 * through `client`. Validation failures throw {@linkcode ValidationError}
 * and push nothing.
 */
export function createProducer<S extends JobSchemas>(
  client: ProducerClient,
  jobs: JobRegistry<S>,
): Producer<S> {
  return {
    async submit<K extends JobType<S>>(
      type: K,
      payload: JobInput<S, K>,
      options?: SubmitOptions,
    ): Promise<SubmitResult> {
      const reply = await client.push([toPushJob(jobs, type, payload, options)]);
      return reply.jobs[0];
    },
    async submitMany(items: SubmitItem<S>[]): Promise<SubmitResult[]> {
      if (items.length === 0) return [];
      const batch = items.map((item) => toPushJob(jobs, item.type, item.payload, item.options));
      return (await client.push(batch)).jobs;
    },
  };
}
