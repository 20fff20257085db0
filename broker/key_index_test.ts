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
