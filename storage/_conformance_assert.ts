/**
 * What the conformance cases share: the way a case is registered, typed
 * rejections, bytes and text, long keys. Test-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { OsqueueError } from "../errors.ts";
import type { ObjectStore } from "./types.ts";

/** Registers one conformance case; `fn` gets the store and the target's key prefix. */
export type DefineCase = (
  name: string,
  fn: (store: ObjectStore, prefix: string) => Promise<void>,
) => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Asserts that `fn` rejects (asynchronously) with the typed error of `code`. */
export async function assertRejectsWith(
  fn: () => Promise<unknown>,
  Class: new (...args: never[]) => OsqueueError,
  code: string,
  what: string,
): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof Class, `${what}: expected ${Class.name}, got ${String(error)}`);
    assert.equal(error.code, code, what);
    return true;
  }, what);
}

/** The UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `body` decoded as UTF-8 (`undefined` stays `undefined`). */
export function text(body: Uint8Array | undefined): string | undefined {
  return body === undefined ? undefined : decoder.decode(body);
}

/** Whether `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A key of exactly `size` UTF-8 bytes under `prefix`. */
export function keyOfBytes(prefix: string, size: number): string {
  const head = `${prefix}long/`;
  return head + "k".repeat(size - encoder.encode(head).length);
}
