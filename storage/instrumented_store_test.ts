import assert from "node:assert/strict";
import { ConflictError } from "../errors.ts";
import { InstrumentedStore, type StoreCall } from "./instrumented_store.ts";
import { MemoryStore } from "./memory_store.ts";
import { defineConformanceTests } from "./_conformance.ts";

Deno.test("InstrumentedStore times each call and keeps results and errors", async () => {
  const calls: StoreCall[] = [];
  let clock = 0;
  const store = new InstrumentedStore({
    store: new MemoryStore(),
    observe: (call) => calls.push(call),
    now: () => (clock += 5),
  });
  const etag = await store.put("a", new Uint8Array([1]), { condition: { ifNoneMatch: "*" } });
  assert.deepEqual((await store.get("a"))?.etag, etag);
  assert.equal(await store.get("missing"), null);
  await assert.rejects(
    () => store.put("a", new Uint8Array([2]), { condition: { ifMatch: "stale" } }),
    ConflictError,
  );
  assert.deepEqual(await store.list(""), ["a"]);
  await store.delete("a");
  assert.deepEqual(calls, [
    { op: "put", key: "a", conditional: true, ms: 5, ok: true },
    { op: "get", key: "a", ms: 5, ok: true },
    { op: "get", key: "missing", ms: 5, ok: true },
    { op: "put", key: "a", conditional: true, ms: 5, ok: false, code: "conflict" },
    { op: "list", key: "", ms: 5, ok: true },
    { op: "delete", key: "a", ms: 5, ok: true },
  ]);
  assert.equal(store.description, new MemoryStore().description);
});

Deno.test("InstrumentedStore: an observer that throws does not fail the call", async () => {
  const store = new InstrumentedStore({
    store: new MemoryStore(),
    observe: () => {
      throw new Error("observer bug");
    },
  });
  await store.put("k", new Uint8Array([1]));
  assert.equal((await store.get("k"))?.body[0], 1);
});

defineConformanceTests({
  name: "InstrumentedStore(MemoryStore)",
  open: () =>
    Promise.resolve({
      store: new InstrumentedStore({ store: new MemoryStore(), observe: () => {} }),
      prefix: "",
      cleanup: () => Promise.resolve(),
    }),
});
