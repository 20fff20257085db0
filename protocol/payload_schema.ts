/**
 * The contract a payload schema meets: {@link https://standardschema.dev | Standard Schema} v1,
 * implemented by zod 4 (and `zod/mini`), valibot, ArkType and others. osqueue
 * never imports a validation library itself; the schemas you pass bring theirs.
 *
 * The interfaces below are a copy of the Standard Schema v1 specification (the
 * spec asks implementers to copy them rather than depend on a package).
 *
 * @example Validate with any Standard Schema library
 * ```ts
 * import { z } from "zod";
 * import { parsePayload } from "@osqueue/osqueue/protocol";
 *
 * const email = z.object({ to: z.email() });
 * const result = parsePayload(email, { to: "a@example.com" });
 * if (result.ok) console.log(result.value.to);
 * ```
 *
 * @module
 */

/** A schema that validates a value of type `Input` and produces an `Output` (Standard Schema v1). */
export interface PayloadSchema<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": PayloadSchemaProps<Input, Output>;
}

/** The `~standard` properties of a {@linkcode PayloadSchema}. */
export interface PayloadSchemaProps<Input = unknown, Output = Input> {
  /** The Standard Schema version: 1. */
  readonly version: 1;
  /** The library that made the schema (`zod`, `valibot`, …). */
  readonly vendor: string;
  /** Validates `value`; a library may answer asynchronously (osqueue refuses that: payloads are validated synchronously). */
  readonly validate: (
    value: unknown,
  ) => PayloadSchemaResult<Output> | Promise<PayloadSchemaResult<Output>>;
  /** The input and output types, for type inference only (absent at run time). */
  readonly types?: PayloadSchemaTypes<Input, Output> | undefined;
}

/** The outcome of {@linkcode PayloadSchemaProps.validate}. */
export type PayloadSchemaResult<Output> = PayloadSchemaSuccess<Output> | PayloadSchemaFailure;

/** A successful validation. */
export interface PayloadSchemaSuccess<Output> {
  /** The validated (possibly transformed) value. */
  readonly value: Output;
  /** Absent on success. */
  readonly issues?: undefined;
}

/** A failed validation. */
export interface PayloadSchemaFailure {
  /** What is wrong (at least one issue). */
  readonly issues: ReadonlyArray<PayloadSchemaIssue>;
}

/** One problem found by a schema. */
export interface PayloadSchemaIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where, as keys from the root of the value. */
  readonly path?: ReadonlyArray<PropertyKey | PayloadSchemaPathSegment> | undefined;
}

/** A path segment given as an object. */
export interface PayloadSchemaPathSegment {
  /** The key. */
  readonly key: PropertyKey;
}

/** The type-only input and output of a schema. */
export interface PayloadSchemaTypes<Input = unknown, Output = Input> {
  /** What the schema accepts. */
  readonly input: Input;
  /** What the schema produces. */
  readonly output: Output;
}

/** What schema `S` accepts. */
export type SchemaInput<S extends PayloadSchema> = NonNullable<S["~standard"]["types"]>["input"];

/** What schema `S` produces. */
export type SchemaOutput<S extends PayloadSchema> = NonNullable<S["~standard"]["types"]>["output"];

/** One problem found by {@linkcode parsePayload}, with a printable path. */
export interface PayloadIssue {
  /** Dotted path to the offending field (`(root)` for the value itself). */
  path: string;
  /** What is wrong. */
  message: string;
}

/** The outcome of {@linkcode parsePayload}. */
export type ParsePayloadResult<Output> =
  | { ok: true; value: Output }
  | { ok: false; issues: PayloadIssue[] };

/** Formats an issue path as `a.b[0].c` (`(root)` when empty). */
export function formatIssuePath(
  path: ReadonlyArray<PropertyKey | PayloadSchemaPathSegment> | undefined,
): string {
  if (path === undefined || path.length === 0) return "(root)";
  let out = "";
  for (const segment of path) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * Validates `value` with `schema` synchronously. A schema that answers with a
 * promise (async refinements) is reported as one issue: payloads are validated
 * on hot paths that cannot wait.
 */
export function parsePayload<S extends PayloadSchema>(
  schema: S,
  value: unknown,
): ParsePayloadResult<SchemaOutput<S>> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    result.catch(() => {});
    return {
      ok: false,
      issues: [{ path: "(root)", message: "asynchronous schemas are not supported" }],
    };
  }
  if (result.issues === undefined) return { ok: true, value: result.value as SchemaOutput<S> };
  return {
    ok: false,
    issues: result.issues.map((issue) => ({
      path: formatIssuePath(issue.path),
      message: issue.message,
    })),
  };
}
