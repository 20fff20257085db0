/**
 * Conformance cases on objects: get, put, compare-and-swap (create-if-absent,
 * `ifMatch`), delete, bodies. Test-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConflictError } from "../errors.ts";
import { assertCounter, readCounter, runCounterWriters } from "./_cas_counter.ts";
import {
  assertRejectsWith,
  bytes,
  type DefineCase,
  sameBytes,
  text,
} from "./_conformance_assert.ts";

/** Registers the cases on get, put, compare-and-swap, delete and bodies. */
export function defineObjectCases(
  define: DefineCase,
  { writers, rounds }: { writers: number; rounds: number },
): void {
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

  define("deleting a missing key is fine", async (store, p) => {
    await store.delete(`${p}never`);
    await store.delete(`${p}never/deeper`);
    await store.put(`${p}once`, bytes("x"));
    await store.delete(`${p}once`);
    await store.delete(`${p}once`);
    assert.equal(await store.get(`${p}once`), null);
    assert.deepEqual(await store.list(p), []);
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
}
