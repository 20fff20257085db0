import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { defineConformanceTests } from "./_conformance.ts";
import { compareKeys, MemoryStore } from "./memory_store.ts";

defineConformanceTests({
  name: "MemoryStore",
  open: () =>
    Promise.resolve({ store: new MemoryStore(), prefix: "", cleanup: () => Promise.resolve() }),
});

Deno.test("MemoryStore: invalid keys reject instead of throwing synchronously", async () => {
  const store = new MemoryStore();
  let promise: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    promise = store.get("");
  });
  await assert.rejects(promise!, InvalidError);
});

Deno.test("compareKeys orders by UTF-8 bytes, not UTF-16 code units", () => {
  // U+FF5E is one UTF-16 unit above the surrogates of U+1F600, but its UTF-8 bytes sort first.
  const keys = ["😀", "～", "b", "a/b", "a", "ab", "a-"];
  assert.deepEqual([...keys].sort(compareKeys), ["a", "a-", "a/b", "ab", "b", "～", "😀"]);
  assert.equal(compareKeys("same", "same"), 0);
});
