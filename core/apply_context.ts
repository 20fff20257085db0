/**
 * What `applyBatch` needs from the outside world, and what one
 * batch has used so far: shared by the handlers of every operation family.
 *
 * @module
 */
import type { QueueLimits } from "../protocol/operations.ts";

/** What `applyBatch` needs from the outside world. */
export interface ApplyContext {
  /** The current time, epoch ms. */
  now: number;
  /** The lease duration when a claim or heartbeat gives none, ms. */
  defaultLeaseMs: number;
  /** A new unguessable lease token (the broker passes `crypto.randomUUID`). */
  newToken(): string;
  /** Uniform randomness in [0, 1), for backoff jitter. */
  random(): number;
  /** Capacity limits enforced on `push` (refused whole with `overloaded`); none when absent. */
  limits?: QueueLimits;
  /**
   * The state's size in bytes before this batch, as the broker measures it
   * (the size of the state it last wrote or read). `maxStateBytes` is checked
   * against this plus the JSON bytes of the payloads and results the batch
   * adds; without it only the batch's own additions count.
   */
  stateBytes?: number;
}

/** What the operations of one batch added so far, for the `maxStateBytes` check. */
export interface BatchUsage {
  /** JSON bytes of the payloads and results added by this batch. */
  addedBytes: number;
}

/** The lease duration asked for, when valid; else the context's default, ms. */
export function leaseDuration(leaseMs: number | undefined, context: ApplyContext): number {
  return leaseMs !== undefined && Number.isFinite(leaseMs) && leaseMs > 0
    ? leaseMs
    : context.defaultLeaseMs;
}

const utf8 = new TextEncoder();

/** A JSON value's size as UTF-8 JSON (bounded depth: checked at the edge). */
export function jsonBytes(value: unknown): number {
  return utf8.encode(JSON.stringify(value ?? null)).length;
}
