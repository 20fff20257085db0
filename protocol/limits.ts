/**
 * The bounds every operation that enters from outside is held to (checked by
 * the schemas in `operation_schema.ts`). Pure module.
 *
 * @module
 */
import { MAX_JSON_DEPTH } from "./json_value.ts";

/** Limits applied to operations that enter from outside. */
export const LIMITS = {
  /** Longest job type. */
  maxTypeLength: 128,
  /** Largest payload, as JSON bytes. */
  maxPayloadBytes: 256 * 1024,
  /** Largest progress value, as JSON bytes. */
  maxProgressBytes: 1024,
  /** Largest completion result, as JSON bytes. */
  maxResultBytes: 16 * 1024,
  /** Longest error message kept. */
  maxErrorLength: 4096,
  /** Most jobs in one push. */
  maxPushBatch: 1000,
  /** Most jobs in one claim. */
  maxClaimBatch: 1000,
  /** Longest lease. */
  maxLeaseMs: 24 * 3600_000,
  /** Longest long-poll wait. */
  maxWaitMs: 120_000,
  /** Longest id, worker id, token or idempotency key. */
  maxIdLength: 256,
  /** Deepest nesting of arrays and objects in a payload or result. */
  maxJsonDepth: MAX_JSON_DEPTH,
  /** Largest page of a `list`. */
  maxListLimit: 1000,
} as const;
