/**
 * Conformance cases on `list`: prefixes, byte order, the `startAfter`/`limit`
 * window, paging past one S3 page, bad windows. Test-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { MAX_KEY_BYTES } from "./keys.ts";
import { compareKeys } from "./memory_store.ts";
import { assertRejectsWith, bytes, type DefineCase, text } from "./_conformance_assert.ts";

/** Registers the cases on listing. */
export function defineListCases(define: DefineCase): void {
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
}
