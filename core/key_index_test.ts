import assert from "node:assert/strict";
import { KeyIndex } from "./key_index.ts";

Deno.test("a key index draft copies on write and deletes only matching owners", () => {
  const draft = KeyIndex.EMPTY.draft();
  for (let i = 0; i < 5000; i++) draft.set(`key-${i}`, i);
  const base = draft.freeze();
  assert.equal(base.size, 5000);
  const next = base.draft();
  next.set("key-1", 99);
  next.set("new", 7);
  assert.equal(next.delete("key-2", 123), false, "another job holds key-2");
  assert.equal(next.delete("key-2", 2), true);
  assert.equal(next.delete("missing", 1), false);
  const after = next.freeze();
  assert.deepEqual([base.get("key-1"), base.get("key-2"), base.get("new")], [1, 2, undefined]);
  assert.deepEqual([after.get("key-1"), after.get("key-2"), after.get("new")], [99, undefined, 7]);
  assert.equal(after.size, 5000);
  assert.equal(after.get("key-4999"), 4999);
  assert.equal(KeyIndex.EMPTY.size, 0);
});

Deno.test("fromEntries builds an index and reports duplicate keys", () => {
  const duplicates: string[] = [];
  const index = KeyIndex.fromEntries(
    [["a", 1], ["b", 2], ["a", 3]],
    (key) => duplicates.push(key),
  );
  assert.deepEqual(duplicates, ["a"]);
  assert.equal(index.size, 2);
  assert.deepEqual([index.get("a"), index.get("b"), index.get("c")], [3, 2, undefined]);
  const draft = index.draft();
  draft.set("c", 4);
  assert.equal(index.get("c"), undefined);
  assert.equal(draft.freeze().get("c"), 4);
});
