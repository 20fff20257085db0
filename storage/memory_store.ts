/**
 * An in-process store for tests and embedded use: a map of keys to bodies with
 * a generation counter as ETag.
 *
 * @module
 */
import { ConflictError } from "../errors.ts";
import { validateKey, validateListWindow, validatePrefix } from "./keys.ts";
import type { ListOptions, ObjectStore, PutOptions, StoredObject } from "./types.ts";

/** An {@linkcode ObjectStore} held in memory; nothing survives the process. */
export class MemoryStore implements ObjectStore {
  #objects = new Map<string, StoredObject>();
  #generation = 0;

  /** Always `memory`. */
  readonly description: string = "memory";

  /** Reads an object, or `null`. The returned body is a copy. */
  get(key: string): Promise<StoredObject | null> {
    return settle(() => {
      validateKey(key);
      const found = this.#objects.get(key);
      return found ? { body: found.body.slice(), etag: found.etag } : null;
    });
  }

  /** Writes an object under the CAS condition, if any; returns the new ETag. */
  put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<string> {
    return settle(() => {
      validateKey(key);
      const current = this.#objects.get(key);
      const condition = options.condition;
      if (condition !== undefined) {
        if ("ifNoneMatch" in condition && current !== undefined) {
          throw new ConflictError(`${key} already exists`);
        }
        if ("ifMatch" in condition && current?.etag !== condition.ifMatch) {
          throw new ConflictError(
            current ? `${key} changed since it was read` : `${key} does not exist`,
          );
        }
      }
      const etag = `m${++this.#generation}`;
      this.#objects.set(key, { body: body.slice(), etag });
      return etag;
    });
  }

  /** Deletes an object; a missing key is not an error. */
  delete(key: string): Promise<void> {
    return settle(() => {
      validateKey(key);
      this.#objects.delete(key);
    });
  }

  /** Lists keys with the prefix, sorted, after `options.startAfter`, at most `options.limit`. */
  list(prefix: string, options: ListOptions = {}): Promise<string[]> {
    return settle(() => {
      validatePrefix(prefix);
      const { startAfter, limit } = validateListWindow(options);
      const keys = [...this.#objects.keys()].filter((key) =>
        key.startsWith(prefix) && (startAfter === undefined || compareKeys(key, startAfter) > 0)
      );
      return keys.sort(compareKeys).slice(0, limit);
    });
  }
}

/** Runs `fn` and turns its result or its exception into a promise (never throws synchronously). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

const encoder = new TextEncoder();

/** Compares keys in UTF-8 byte order (the order S3 lists in). */
export function compareKeys(a: string, b: string): number {
  const ea = encoder.encode(a);
  const eb = encoder.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}
