/**
 * The conformance suite every {@linkcode ObjectStore} backend runs: the cases
 * on objects (`_conformance_objects.ts`), listing (`_conformance_list.ts`) and
 * keys (`_conformance_keys.ts`). It re-exports the read-increment-CAS counter
 * (`_cas_counter.ts`) that the multi-process and fault tests use too.
 * Test-only: excluded from publishing.
 *
 * ```ts ignore
 * defineConformanceTests({
 *   name: "MemoryStore",
 *   open: () => Promise.resolve({ store: new MemoryStore(), prefix: "", cleanup: async () => {} }),
 * });
 * ```
 *
 * @module
 */
import type { ObjectStore } from "./types.ts";
import type { DefineCase } from "./_conformance_assert.ts";
import { defineKeyCases } from "./_conformance_keys.ts";
import { defineListCases } from "./_conformance_list.ts";
import { defineObjectCases } from "./_conformance_objects.ts";

export * from "./_cas_counter.ts";

/** A fresh store (or a fresh corner of a shared one) for one test case. */
export interface ConformanceTarget {
  /** The store under test. */
  store: ObjectStore;
  /**
   * Every key a test uses starts with this; unique per target so that cases can
   * share a bucket. Empty, or ending with `/`.
   */
  prefix: string;
  /** Removes what the test left behind (objects, temp dirs). */
  cleanup(): Promise<void>;
}

/** Options of {@linkcode defineConformanceTests}. */
export interface ConformanceOptions {
  /** Test names start with `${name}: `. */
  name: string;
  /** Opens a fresh target; called once per test case. */
  open(): Promise<ConformanceTarget>;
  /** Registers the cases as ignored (e.g. no S3 endpoint configured). */
  ignore?: boolean;
  /** Concurrent writers of the lost-update case (default 8). */
  writers?: number;
  /** Increments per writer in the lost-update case (default 25). */
  rounds?: number;
}

/** Registers the conformance cases as `Deno.test`s named `${options.name}: ...`. */
export function defineConformanceTests(options: ConformanceOptions): void {
  const writers = options.writers ?? 8;
  const rounds = options.rounds ?? 25;

  const define: DefineCase = (name, fn) => {
    Deno.test({
      name: `${options.name}: ${name}`,
      ignore: options.ignore ?? false,
      fn: async () => {
        const target = await options.open();
        try {
          await fn(target.store, target.prefix);
        } finally {
          await target.cleanup();
        }
      },
    });
  };

  defineObjectCases(define, { writers, rounds });
  defineListCases(define);
  defineKeyCases(define);
}
