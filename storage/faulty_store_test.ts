import assert from "node:assert/strict";
import { AmbiguousWriteError, ConflictError, InvalidError, UnavailableError } from "../errors.ts";
import {
  assertCounter,
  defineConformanceTests,
  readCounter,
  runCounterWriters,
} from "./_conformance.ts";
import { FaultyStore, seededRandom } from "./faulty_store.ts";
import { MemoryStore } from "./memory_store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// With latency jitter only (no faults) the wrapper must be transparent; the
// jitter reorders the concurrent writers' reads and writes.
defineConformanceTests({
  name: "FaultyStore(MemoryStore, jitter)",
  open: () => {
    const random = seededRandom(7);
    const store = new FaultyStore(new MemoryStore(), {
      latencyMs: () => Math.floor(random() * 3),
      random,
    });
    return Promise.resolve({ store, prefix: "conf/", cleanup: () => Promise.resolve() });
  },
});

Deno.test("FaultyStore: CAS counter survives unavailable, conflicting and ambiguous writes", async () => {
  const store = new FaultyStore(new MemoryStore(), {
    unavailableRate: 0.1,
    conflictRate: 0.1,
    ambiguousRate: 0.15,
    random: seededRandom(1234),
  });
  const stats = await runCounterWriters(store, "counter", {
    writers: 6,
    rounds: 20,
    retryDelayMs: 0,
  });
  assertCounter(await readCounter(store.inner, "counter"), 120);
  assert.ok(stats.ambiguous > 0, "no ambiguous write was injected");
  assert.ok(stats.unavailable > 0, "no unavailable error was injected");
  assert.ok(store.stats.faults >= stats.ambiguous + stats.unavailable);
});

Deno.test("FaultyStore: without faults it passes through and counts", async () => {
  const inner = new MemoryStore();
  const store = new FaultyStore(inner);
  assert.equal(store.description, "faulty(memory)");
  assert.equal(store.inner, inner);
  const etag = await store.put("a", enc.encode("1"));
  await store.put("a", enc.encode("2"), { condition: { ifMatch: etag } });
  await store.put("b", enc.encode("3"), { condition: { ifNoneMatch: "*" } });
  assert.equal(dec.decode((await store.get("a"))!.body), "2");
  assert.deepEqual(await store.list(""), ["a", "b"]);
  await store.delete("b");
  assert.equal(await inner.get("b"), null);
  assert.deepEqual(store.stats, {
    gets: 1,
    puts: 3,
    conditionalPuts: 2,
    deletes: 1,
    lists: 1,
    putsInFlight: 0,
    maxPutsInFlight: 1,
    faults: 0,
  });
  store.resetStats();
  assert.equal(store.stats.puts, 0);
  assert.equal(store.stats.maxPutsInFlight, 0);
});

Deno.test("FaultyStore: failNext throws once per call, in order, without reaching the store", async () => {
  const inner = new MemoryStore();
  const store = new FaultyStore(inner);
  const first = new UnavailableError("first");
  const second = new ConflictError("second");
  store.failNext("put", first);
  store.failNext("put", second);
  store.failNext("list", new UnavailableError("list down"));
  await assert.rejects(() => store.put("k", enc.encode("x")), (e) => e === first);
  await assert.rejects(() => store.put("k", enc.encode("x")), (e) => e === second);
  assert.equal(await inner.get("k"), null);
  await store.put("k", enc.encode("x"));
  assert.equal(dec.decode((await inner.get("k"))!.body), "x");
  assert.ok(await store.get("k"));
  await assert.rejects(() => store.list(""), UnavailableError);
  assert.deepEqual(await store.list(""), ["k"]);
  assert.equal(store.stats.faults, 3);
});

Deno.test("FaultyStore: ambiguousNext lands or not, and the caller cannot tell", async () => {
  const inner = new MemoryStore();
  const store = new FaultyStore(inner);
  store.ambiguousNext({ lands: true });
  await assert.rejects(
    () => store.put("landed", enc.encode("yes"), { condition: { ifNoneMatch: "*" } }),
    AmbiguousWriteError,
  );
  assert.equal(dec.decode((await inner.get("landed"))!.body), "yes");

  store.ambiguousNext({ lands: false });
  await assert.rejects(
    () => store.put("lost", enc.encode("no"), { condition: { ifNoneMatch: "*" } }),
    AmbiguousWriteError,
  );
  assert.equal(await inner.get("lost"), null);

  // "Lands" still respects the condition: a failing CAS writes nothing.
  store.ambiguousNext({ lands: true });
  await assert.rejects(
    () => store.put("landed", enc.encode("again"), { condition: { ifNoneMatch: "*" } }),
    AmbiguousWriteError,
  );
  assert.equal(dec.decode((await inner.get("landed"))!.body), "yes");
});

Deno.test("FaultyStore: conflictRate hits only conditional puts", async () => {
  const inner = new MemoryStore();
  const store = new FaultyStore(inner, { conflictRate: 1, random: () => 0 });
  await assert.rejects(
    () => store.put("k", enc.encode("x"), { condition: { ifNoneMatch: "*" } }),
    ConflictError,
  );
  assert.equal(await inner.get("k"), null);
  await store.put("k", enc.encode("y"));
  assert.equal(dec.decode((await inner.get("k"))!.body), "y");
});

Deno.test("FaultyStore: unavailableRate per operation; bad keys stay InvalidError", async () => {
  const store = new FaultyStore(new MemoryStore(), { unavailableRate: { put: 1 } });
  assert.equal(await store.get("k"), null);
  await assert.rejects(() => store.put("k", enc.encode("x")), UnavailableError);
  await store.delete("k");
  const down = new FaultyStore(new MemoryStore(), { unavailableRate: 1 });
  await assert.rejects(() => down.get("k"), UnavailableError);
  await assert.rejects(() => down.get("a//b"), InvalidError);
  await assert.rejects(() => down.put("", enc.encode("x")), InvalidError);
  await assert.rejects(() => down.list("/x"), InvalidError);
});

Deno.test("FaultyStore: latency goes through the injected sleep", async () => {
  const slept: number[] = [];
  const calls: string[] = [];
  const store = new FaultyStore(new MemoryStore(), {
    latencyMs: (operation, key) => {
      calls.push(`${operation} ${key}`);
      return operation === "put" ? 5 : 0;
    },
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  await store.put("k", enc.encode("x"));
  await store.get("k");
  await store.list("k");
  assert.deepEqual(calls, ["put k", "get k", "list k"]);
  assert.deepEqual(slept, [5]);
});

Deno.test("FaultyStore: pause holds puts in flight; maxPutsInFlight records the peak", async () => {
  const store = new FaultyStore(new MemoryStore());
  store.pause("put");
  const pending = [1, 2, 3].map((i) => store.put(`k${i}`, enc.encode(String(i))));
  await Promise.resolve();
  assert.equal(store.stats.putsInFlight, 3);
  assert.equal(await store.get("k1"), null, "a paused put reached the store");
  store.resume("put");
  await Promise.all(pending);
  assert.equal(store.stats.putsInFlight, 0);
  assert.equal(store.stats.maxPutsInFlight, 3);
  assert.ok(await store.get("k3"));

  store.resetStats();
  for (let i = 0; i < 3; i++) await store.put("serial", enc.encode(String(i)));
  assert.equal(store.stats.maxPutsInFlight, 1);
});

Deno.test("seededRandom is deterministic and in [0, 1)", () => {
  const a = seededRandom(99);
  const b = seededRandom(99);
  const c = seededRandom(100);
  const xs = Array.from({ length: 1000 }, a);
  assert.deepEqual(Array.from({ length: 1000 }, b), xs);
  assert.notDeepEqual(Array.from({ length: 1000 }, c), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(new Set(xs).size > 990);
});
