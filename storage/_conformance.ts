/**
 * The conformance suite every {@linkcode ObjectStore} backend runs, plus the
 * read-increment-CAS counter helpers it (and the multi-process and fault tests)
 * use. Test-only: excluded from publishing.
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
import assert from "node:assert/strict";
import {
  AmbiguousWriteError,
  ConflictError,
  InvalidError,
  type OsqueueError,
  UnavailableError,
} from "../errors.ts";
import { MAX_KEY_BYTES } from "./keys.ts";
import { compareKeys } from "./memory_store.ts";
import type { ObjectStore } from "./types.ts";

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

/** The body of a counter object: its value and the ids of the increments applied, in order. */
export interface CounterState {
  /** How many increments landed. */
  count: number;
  /** The id of every increment that landed; each id exactly once if the store is correct. */
  applied: string[];
}

/** What an increment loop had to go through. */
export interface CounterStats {
  /** Conditional puts sent. */
  attempts: number;
  /** `ConflictError`s received (retried). */
  conflicts: number;
  /** `AmbiguousWriteError`s received (resolved by re-reading). */
  ambiguous: number;
  /** `UnavailableError`s received (retried after a short pause). */
  unavailable: number;
}

/** Options of {@linkcode incrementCounter}. */
export interface IncrementOptions {
  /** Gives up (throws) after this many attempts (default 10 000): a broken store must not hang a test. */
  maxAttempts?: number;
  /** Pause before retrying after `UnavailableError`, in ms (default 1). */
  retryDelayMs?: number;
}

/** Options of {@linkcode runCounterWriters}. */
export interface CounterWritersOptions extends IncrementOptions {
  /** Concurrent writers. */
  writers: number;
  /** Increments per writer. */
  rounds: number;
  /** Prefix of the increment ids, to tell processes apart (default `w`). */
  idPrefix?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a counter body. */
export function encodeCounter(state: CounterState): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

/** Decodes a counter body (or `null`, meaning zero). */
export function decodeCounter(body: Uint8Array | null): CounterState {
  if (body === null) return { count: 0, applied: [] };
  const parsed = JSON.parse(decoder.decode(body)) as CounterState;
  assert.equal(typeof parsed.count, "number");
  assert.ok(Array.isArray(parsed.applied));
  return parsed;
}

/** Reads the counter at `key` (zero when missing). */
export async function readCounter(store: ObjectStore, key: string): Promise<CounterState> {
  return decodeCounter((await store.get(key))?.body ?? null);
}

/**
 * Applies increment `id` to the counter at `key` exactly once: read, add one,
 * write with `ifMatch` (or `ifNoneMatch: "*"` when missing); on `ConflictError`
 * read again; on `AmbiguousWriteError` read again and stop if `id` is already
 * applied; on `UnavailableError` pause and retry.
 */
export async function incrementCounter(
  store: ObjectStore,
  key: string,
  id: string,
  options: IncrementOptions = {},
): Promise<CounterStats> {
  const maxAttempts = options.maxAttempts ?? 10_000;
  const retryDelayMs = options.retryDelayMs ?? 1;
  const stats: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
  while (true) {
    if (stats.attempts >= maxAttempts) {
      throw new Error(`increment ${id} gave up after ${maxAttempts} attempts`);
    }
    let current;
    try {
      current = await store.get(key);
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      stats.unavailable++;
      await sleep(retryDelayMs);
      continue;
    }
    const state = decodeCounter(current?.body ?? null);
    if (state.applied.includes(id)) return stats; // an ambiguous write of ours landed
    const next = { count: state.count + 1, applied: [...state.applied, id] };
    stats.attempts++;
    try {
      await store.put(key, encodeCounter(next), {
        condition: current === null ? { ifNoneMatch: "*" } : { ifMatch: current.etag },
      });
      return stats;
    } catch (error) {
      if (error instanceof ConflictError) stats.conflicts++;
      else if (error instanceof AmbiguousWriteError) stats.ambiguous++;
      else if (error instanceof UnavailableError) {
        stats.unavailable++;
        await sleep(retryDelayMs);
      } else throw error;
    }
  }
}

/**
 * Runs `writers` concurrent loops of `rounds` increments each on the counter at
 * `key` (ids `${idPrefix}${writer}:${round}`) and sums their stats.
 */
export async function runCounterWriters(
  store: ObjectStore,
  key: string,
  options: CounterWritersOptions,
): Promise<CounterStats> {
  const idPrefix = options.idPrefix ?? "w";
  const perWriter = await Promise.all(
    Array.from({ length: options.writers }, async (_, writer) => {
      const total: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
      for (let round = 0; round < options.rounds; round++) {
        addStats(
          total,
          await incrementCounter(store, key, `${idPrefix}${writer}:${round}`, options),
        );
      }
      return total;
    }),
  );
  const total: CounterStats = { attempts: 0, conflicts: 0, ambiguous: 0, unavailable: 0 };
  for (const stats of perWriter) addStats(total, stats);
  return total;
}

/** Asserts that the counter holds exactly `expected` increments, each applied once. */
export function assertCounter(state: CounterState, expected: number): void {
  assert.equal(state.applied.length, state.count, "count and applied ids disagree");
  assert.equal(new Set(state.applied).size, state.applied.length, "an increment was applied twice");
  assert.equal(state.count, expected, "lost or extra updates");
}

function addStats(into: CounterStats, from: CounterStats): void {
  into.attempts += from.attempts;
  into.conflicts += from.conflicts;
  into.ambiguous += from.ambiguous;
  into.unavailable += from.unavailable;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts that `fn` rejects (asynchronously) with the typed error of `code`. */
async function assertRejectsWith(
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

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function text(body: Uint8Array | undefined): string | undefined {
  return body === undefined ? undefined : decoder.decode(body);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A key of exactly `size` UTF-8 bytes under `prefix`. */
function keyOfBytes(prefix: string, size: number): string {
  const head = `${prefix}long/`;
  return head + "k".repeat(size - encoder.encode(head).length);
}

/** Registers the conformance cases as `Deno.test`s named `${options.name}: ...`. */
export function defineConformanceTests(options: ConformanceOptions): void {
  const writers = options.writers ?? 8;
  const rounds = options.rounds ?? 25;

  const define = (
    name: string,
    fn: (store: ObjectStore, prefix: string) => Promise<void>,
  ): void => {
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

  define("get of a missing key is null", async (store, p) => {
    assert.equal(await store.get(`${p}missing`), null);
    assert.equal(await store.get(`${p}missing/deeper`), null);
  });

  define("put returns the ETag that get reports and ifMatch accepts", async (store, p) => {
    const etag = await store.put(`${p}obj`, bytes("one"));
    assert.equal(typeof etag, "string");
    assert.ok(etag.length > 0);
    const found = await store.get(`${p}obj`);
    assert.equal(text(found?.body), "one");
    assert.equal(found?.etag, etag);
    const next = await store.put(`${p}obj`, bytes("two"), { condition: { ifMatch: etag } });
    assert.notEqual(next, etag);
    assert.equal((await store.get(`${p}obj`))?.etag, next);
  });

  define("create-if-absent succeeds once, then conflicts", async (store, p) => {
    const key = `${p}create`;
    const etag = await store.put(key, bytes("first"), { condition: { ifNoneMatch: "*" } });
    await assertRejectsWith(
      () => store.put(key, bytes("second"), { condition: { ifNoneMatch: "*" } }),
      ConflictError,
      "conflict",
      "second create",
    );
    const found = await store.get(key);
    assert.equal(text(found?.body), "first");
    assert.equal(found?.etag, etag);
    await store.delete(key);
    await store.put(key, bytes("again"), { condition: { ifNoneMatch: "*" } });
    assert.equal(text((await store.get(key))?.body), "again");
  });

  define("concurrent create-if-absent: exactly one wins", async (store, p) => {
    const key = `${p}race`;
    const results = await Promise.allSettled(
      Array.from(
        { length: writers },
        (_, i) => store.put(key, bytes(`writer ${i}`), { condition: { ifNoneMatch: "*" } }),
      ),
    );
    const won = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
    assert.equal(won.length, 1, "exactly one create must win");
    for (const result of results) {
      if (result.status === "rejected") assert.ok(result.reason instanceof ConflictError);
    }
    assert.equal(text((await store.get(key))?.body), `writer ${won[0]}`);
  });

  define("ifMatch with a stale ETag conflicts and leaves the body", async (store, p) => {
    const key = `${p}stale`;
    const first = await store.put(key, bytes("v1"));
    const second = await store.put(key, bytes("v2"), { condition: { ifMatch: first } });
    await assertRejectsWith(
      () => store.put(key, bytes("v3"), { condition: { ifMatch: first } }),
      ConflictError,
      "conflict",
      "stale ifMatch",
    );
    const found = await store.get(key);
    assert.equal(text(found?.body), "v2");
    assert.equal(found?.etag, second);
  });

  define("ifMatch on a missing key conflicts", async (store, p) => {
    const other = await store.put(`${p}other`, bytes("x"));
    for (const etag of [other, "no-such-etag", '"quoted"']) {
      await assertRejectsWith(
        () => store.put(`${p}absent`, bytes("y"), { condition: { ifMatch: etag } }),
        ConflictError,
        "conflict",
        `ifMatch ${etag} on a missing key`,
      );
    }
    assert.equal(await store.get(`${p}absent`), null);
    // A deleted key is missing too.
    await store.delete(`${p}other`);
    await assertRejectsWith(
      () => store.put(`${p}other`, bytes("z"), { condition: { ifMatch: other } }),
      ConflictError,
      "conflict",
      "ifMatch on a deleted key",
    );
    assert.equal(await store.get(`${p}other`), null);
  });

  define("unconditional put overwrites", async (store, p) => {
    const key = `${p}overwrite`;
    const first = await store.put(key, bytes("old"));
    const second = await store.put(key, bytes("new"));
    assert.notEqual(second, first);
    const found = await store.get(key);
    assert.equal(text(found?.body), "new");
    assert.equal(found?.etag, second);
  });

  define("bodies are copied in and out", async (store, p) => {
    const key = `${p}copy`;
    const body = bytes("abc");
    await store.put(key, body);
    body[0] = 0x7a;
    const found = await store.get(key);
    assert.equal(text(found?.body), "abc");
    found!.body[0] = 0x7a;
    assert.equal(text((await store.get(key))?.body), "abc");
  });

  define(`${writers} concurrent read-increment-CAS writers lose no update`, async (store, p) => {
    const key = `${p}counter`;
    await runCounterWriters(store, key, { writers, rounds });
    assertCounter(await readCounter(store, key), writers * rounds);
  });

  define("list by prefix: sorted, scoped, and delete removes", async (store, p) => {
    const keys = [
      `${p}list/b`,
      `${p}list/a`,
      `${p}list/c/d`,
      `${p}list/c`,
      `${p}list-x/y`,
      `${p}lis`,
    ];
    for (const key of keys) await store.put(key, bytes(key));
    assert.deepEqual(await store.list(`${p}list/`), [
      `${p}list/a`,
      `${p}list/b`,
      `${p}list/c`,
      `${p}list/c/d`,
    ]);
    assert.deepEqual(await store.list(`${p}list`), [
      `${p}list-x/y`,
      `${p}list/a`,
      `${p}list/b`,
      `${p}list/c`,
      `${p}list/c/d`,
    ]);
    assert.deepEqual(await store.list(`${p}list/c`), [`${p}list/c`, `${p}list/c/d`]);
    assert.deepEqual(await store.list(`${p}nothing/`), []);
    assert.deepEqual(await store.list(`${p}`), [...keys].sort(compareKeys));
    await store.delete(`${p}list/b`);
    assert.equal(await store.get(`${p}list/b`), null);
    assert.deepEqual(await store.list(`${p}list/`), [`${p}list/a`, `${p}list/c`, `${p}list/c/d`]);
    await store.delete(`${p}list/c`);
    assert.deepEqual(await store.list(`${p}list/`), [`${p}list/a`, `${p}list/c/d`]);
    assert.equal(text((await store.get(`${p}list/c/d`))?.body), `${p}list/c/d`);
  });

  define(
    "list window: startAfter is exclusive, in byte order; limit keeps the first keys",
    async (store, p) => {
      const names = ["a", "a/b", "a/b/c", "a-", "b", "b~", "ü", "～", "😀", "z".repeat(200)];
      const keys = names.map((name) => `${p}win/${name}`);
      for (const key of [...keys, `${p}winx`, `${p}wim`]) await store.put(key, bytes(key));
      const sorted = [...keys].sort(compareKeys);
      const after = (startAfter: string, limit?: number) =>
        store.list(`${p}win/`, { startAfter, limit });
      assert.deepEqual(await store.list(`${p}win/`, {}), sorted);
      // An existing key is excluded; everything after it (also deeper keys) is listed.
      assert.deepEqual(await after(`${p}win/a`), sorted.slice(sorted.indexOf(`${p}win/a`) + 1));
      assert.deepEqual(await after(`${p}win/a/b`), sorted.slice(sorted.indexOf(`${p}win/a/b`) + 1));
      // A string that is not a key (nor a valid one) works as a position.
      assert.deepEqual(
        await after(`${p}win/a/`),
        sorted.filter((k) => compareKeys(k, `${p}win/a/`) > 0),
      );
      assert.deepEqual(
        await after(`${p}win/b/`),
        [`${p}win/b~`, `${p}win/ü`, `${p}win/z${"z".repeat(199)}`, `${p}win/～`, `${p}win/😀`].sort(
          compareKeys,
        ),
      );
      // Byte order, not UTF-16 order: U+FF5E sorts before U+1F600.
      assert.deepEqual(await after(`${p}win/～`), [`${p}win/😀`]);
      assert.deepEqual(await after(`${p}win/😀`), []);
      // Before the prefix: everything; the prefix itself: everything.
      assert.deepEqual(await after(`${p}a`), sorted);
      assert.deepEqual(await after(`${p}win/`), sorted);
      assert.deepEqual(await after(`${p}wio`), []);
      // limit: the first keys, in order; more than there are is fine.
      assert.deepEqual(await store.list(`${p}win/`, { limit: 1 }), sorted.slice(0, 1));
      assert.deepEqual(await store.list(`${p}win/`, { limit: 3 }), sorted.slice(0, 3));
      assert.deepEqual(await store.list(`${p}win/`, { limit: 1000 }), sorted);
      assert.deepEqual(
        await after(`${p}win/a`, 2),
        sorted.slice(sorted.indexOf(`${p}win/a`) + 1).slice(0, 2),
      );
      // The window applies after the prefix filter: neighbours of the prefix never leak in.
      assert.deepEqual(await store.list(`${p}win`, { startAfter: `${p}win/😀` }), [`${p}winx`]);
      assert.deepEqual(await store.list(`${p}wi`, { limit: 1 }), [`${p}wim`]);
      // Paging with limit and startAfter = last key reproduces the whole list.
      const paged: string[] = [];
      for (;;) {
        const page = await store.list(`${p}win/`, { startAfter: paged.at(-1), limit: 3 });
        assert.ok(page.length <= 3);
        paged.push(...page);
        if (page.length < 3) break;
      }
      assert.deepEqual(paged, sorted);
    },
  );

  define(
    "list window over a log of 2,500 zero-padded keys (more than one S3 page)",
    async (store, p) => {
      const count = 2_500;
      const keyOf = (seq: number) => `${p}log/${String(seq).padStart(10, "0")}.json`;
      const all = Array.from({ length: count }, (_, i) => keyOf(i + 1));
      for (let i = 0; i < all.length; i += 50) {
        await Promise.all(all.slice(i, i + 50).map((key) => store.put(key, bytes(key))));
      }
      await store.put(`${p}queue.json`, bytes("head"));
      await store.put(`${p}log-other`, bytes("x"));
      assert.deepEqual(await store.list(`${p}log/`), all);
      assert.deepEqual(
        await store.list(`${p}log/`, { startAfter: keyOf(2_000) }),
        all.slice(2_000),
      );
      // A start that leaves more than one S3 page (StartAfter and continuation tokens together).
      assert.deepEqual(await store.list(`${p}log/`, { startAfter: keyOf(100) }), all.slice(100));
      assert.deepEqual(
        await store.list(`${p}log/`, { startAfter: keyOf(100), limit: 1_500 }),
        all.slice(100, 1_600),
      );
      assert.deepEqual(await store.list(`${p}log/`, { startAfter: keyOf(999), limit: 3 }), [
        keyOf(1_000),
        keyOf(1_001),
        keyOf(1_002),
      ]);
      // A position between keys (a record that was never written) and past the end.
      assert.deepEqual(
        await store.list(`${p}log/`, { startAfter: `${keyOf(1_500)}~`, limit: 2 }),
        [keyOf(1_501), keyOf(1_502)],
      );
      assert.deepEqual(await store.list(`${p}log/`, { startAfter: keyOf(count) }), []);
      assert.deepEqual(await store.list(`${p}log/`, { limit: 1_001 }), all.slice(0, 1_001));
      // Pages of 700 (not a divisor of S3's 1,000) cover the log exactly once.
      const paged: string[] = [];
      for (;;) {
        const page = await store.list(`${p}log/`, { startAfter: paged.at(-1), limit: 700 });
        paged.push(...page);
        if (page.length < 700) break;
      }
      assert.deepEqual(paged, all);
      // Deleting the head of the log moves the first key; startAfter does not resurrect it.
      await Promise.all(all.slice(0, 10).map((key) => store.delete(key)));
      assert.deepEqual(await store.list(`${p}log/`, { limit: 1 }), [keyOf(11)]);
      assert.deepEqual(await store.list(`${p}log/`, { startAfter: keyOf(3), limit: 2 }), [
        keyOf(11),
        keyOf(12),
      ]);
    },
  );

  define("bad list windows are rejected with InvalidError", async (store, p) => {
    await store.put(`${p}w/a`, bytes("a"));
    const bad: { startAfter?: string; limit?: number }[] = [
      { limit: 0 },
      { limit: -1 },
      { limit: 1.5 },
      { limit: Number.NaN },
      { limit: Number.POSITIVE_INFINITY },
      { startAfter: "lone\ud800" },
      { startAfter: "x".repeat(MAX_KEY_BYTES + 1) },
    ];
    for (const window of bad) {
      await assertRejectsWith(
        () => store.list(`${p}w/`, window),
        InvalidError,
        "invalid",
        `list window ${JSON.stringify(window).slice(0, 60)}`,
      );
    }
    assert.deepEqual(await store.list(`${p}w/`, { startAfter: "", limit: 1 }), [`${p}w/a`]);
  });

  define("deleting a missing key is fine", async (store, p) => {
    await store.delete(`${p}never`);
    await store.delete(`${p}never/deeper`);
    await store.put(`${p}once`, bytes("x"));
    await store.delete(`${p}once`);
    await store.delete(`${p}once`);
    assert.equal(await store.get(`${p}once`), null);
    assert.deepEqual(await store.list(p), []);
  });

  define("odd keys round-trip and list in byte order", async (store, p) => {
    const names = [
      "with space",
      "ünïcødé/日本語",
      "emoji 😀",
      "\u00a0nbsp",
      "plus+sign",
      "eq=ual",
      "per%cent",
      "per%41",
      "perA",
      "tilde~",
      "x~o",
      "quote'",
      'double"quote',
      "at@",
      "star*?",
      "UPPER",
      "upper",
      ".hidden",
      "...",
      "a",
      "a/b",
      "a/b/c",
      "z".repeat(300),
      `${"é".repeat(200)}/x`,
    ];
    const keys = [...names.map((name) => `${p}odd/${name}`), keyOfBytes(`${p}odd/`, MAX_KEY_BYTES)];
    for (const key of keys) await store.put(key, bytes(key));
    for (const key of keys) {
      assert.equal(text((await store.get(key))?.body), key, `round-trip of ${JSON.stringify(key)}`);
    }
    assert.deepEqual(await store.list(`${p}odd/`), [...keys].sort(compareKeys));
    assert.deepEqual(await store.list(`${p}odd/a`), [
      `${p}odd/a`,
      `${p}odd/a/b`,
      `${p}odd/a/b/c`,
      `${p}odd/at@`,
    ]);
    assert.deepEqual(await store.list(`${p}odd/a/`), [`${p}odd/a/b`, `${p}odd/a/b/c`]);
    assert.deepEqual(await store.list(`${p}odd/.`), [`${p}odd/...`, `${p}odd/.hidden`]);
    assert.deepEqual(await store.list(`${p}odd/per`), [
      `${p}odd/per%41`,
      `${p}odd/per%cent`,
      `${p}odd/perA`,
    ]);
    await store.delete(`${p}odd/a`);
    assert.equal(await store.get(`${p}odd/a`), null);
    assert.equal(text((await store.get(`${p}odd/a/b`))?.body), `${p}odd/a/b`);
  });

  define("empty and 5 MB bodies round-trip byte-exact", async (store, p) => {
    const empty = await store.put(`${p}empty`, new Uint8Array(0));
    const found = await store.get(`${p}empty`);
    assert.equal(found?.body.length, 0);
    assert.equal(found?.etag, empty);
    const big = new Uint8Array(5 * 1024 * 1024);
    let x = 0x9e3779b9;
    for (let i = 0; i < big.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      big[i] = x & 0xff;
    }
    const etag = await store.put(`${p}big`, big, { condition: { ifNoneMatch: "*" } });
    const back = await store.get(`${p}big`);
    assert.ok(back !== null && sameBytes(back.body, big), "5 MB body changed");
    assert.equal(back?.etag, etag);
  });

  define("bad keys are rejected with InvalidError", async (store, p) => {
    const bad = [
      "",
      "/x",
      `${p}a//b`,
      `${p}a/`,
      `${p}../x`,
      `${p}a/./b`,
      `${p}a/..`,
      `${p}tab\there`,
      `${p}nul\u0000`,
      `${p}del\u007f`,
      `${p}back\\slash`,
      `${p}lone\ud800`,
      `${p}${"x".repeat(MAX_KEY_BYTES + 1)}`,
    ];
    for (const key of bad) {
      const what = JSON.stringify(key.slice(0, 40));
      await assertRejectsWith(() => store.get(key), InvalidError, "invalid", `get ${what}`);
      await assertRejectsWith(
        () => store.put(key, bytes("x")),
        InvalidError,
        "invalid",
        `put ${what}`,
      );
      await assertRejectsWith(
        () => store.put(key, bytes("x"), { condition: { ifNoneMatch: "*" } }),
        InvalidError,
        "invalid",
        `conditional put ${what}`,
      );
      await assertRejectsWith(() => store.delete(key), InvalidError, "invalid", `delete ${what}`);
    }
    for (const prefix of ["/x", `${p}a//`, `${p}../`, `${p}bad\u0001`, `${p}back\\`]) {
      await assertRejectsWith(
        () => store.list(prefix),
        InvalidError,
        "invalid",
        `list ${JSON.stringify(prefix)}`,
      );
    }
    assert.deepEqual(await store.list(p), [], "a bad key was written");
  });
}
