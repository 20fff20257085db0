/**
 * Conformance cases on keys: odd but valid keys round-trip and list in byte
 * order; bad keys are rejected by every method. Test-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { MAX_KEY_BYTES } from "./keys.ts";
import { compareKeys } from "./memory_store.ts";
import {
  assertRejectsWith,
  bytes,
  type DefineCase,
  keyOfBytes,
  text,
} from "./_conformance_assert.ts";

/** Registers the cases on valid and invalid keys. */
export function defineKeyCases(define: DefineCase): void {
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
