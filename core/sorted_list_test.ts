import assert from "node:assert/strict";
import { compareEntries, type IndexEntry, MAX_CHUNK, SortedList } from "./sorted_list.ts";

function prng(seed: number): () => number {
  return () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
}

const entry = (a: number, b: number, seq: number): IndexEntry => ({ a, b, seq });

Deno.test("compareEntries orders by a, then b, then seq", () => {
  const sorted = [entry(2, 0, 1), entry(1, 5, 3), entry(1, 5, 2), entry(-1, 9, 9)].sort(
    compareEntries,
  );
  assert.deepEqual(sorted, [entry(-1, 9, 9), entry(1, 5, 2), entry(1, 5, 3), entry(2, 0, 1)]);
});

Deno.test("randomized: a draft behaves like a sorted array, across many chunk splits", () => {
  const random = prng(3);
  let list = SortedList.EMPTY;
  let model: IndexEntry[] = [];
  let seq = 0;
  for (let round = 0; round < 60; round++) {
    const before = [...list];
    const draft = list.draft();
    for (let k = 0; k < 200; k++) {
      if (random() < 0.65 || model.length === 0) {
        const e = entry(Math.floor(random() * 20), Math.floor(random() * 50), ++seq);
        draft.insert(e);
        model.push(e);
      } else if (random() < 0.5) {
        const victim = model[Math.floor(random() * model.length)];
        assert.equal(draft.remove(victim), true);
        model = model.filter((e) => e !== victim);
      } else {
        const first = draft.first()!;
        model.sort(compareEntries);
        assert.deepEqual(first, model[0]);
        assert.equal(draft.remove(first), true);
        model.shift();
      }
      assert.equal(draft.remove(entry(5, 5, -1)), false, "absent entries are not removed");
    }
    model.sort(compareEntries);
    assert.equal(draft.size, model.length);
    assert.deepEqual(draft.first(), model[0]);
    const next = draft.freeze();
    assert.deepEqual([...next], model);
    assert.deepEqual([...list], before, "the base list is unchanged by its draft");
    for (const chunk of next.chunks) {
      assert.ok(chunk.length > 0 && chunk.length <= MAX_CHUNK);
    }
    list = next;
  }
  assert.ok(list.chunks.length > 3, "the test crossed chunk boundaries");
});

Deno.test("firstAbove, countAtMost and take", () => {
  const entries = Array.from({ length: 3000 }, (_, i) => entry(Math.floor(i / 3), 0, i));
  const list = SortedList.from([...entries].reverse());
  assert.equal(list.size, 3000);
  assert.deepEqual(list.first(), entries[0]);
  assert.deepEqual(list.firstAbove(-5), entries[0]);
  assert.deepEqual(list.firstAbove(0), entries[3]);
  assert.deepEqual(list.firstAbove(700), entries[2103]);
  assert.equal(list.firstAbove(999), undefined);
  assert.equal(list.countAtMost(-1), 0);
  assert.equal(list.countAtMost(0), 3);
  assert.equal(list.countAtMost(700), 2103);
  assert.equal(list.countAtMost(5000), 3000);
  assert.deepEqual(list.take(4), entries.slice(0, 4));
  assert.equal(SortedList.EMPTY.take(3).length, 0);
  assert.equal(SortedList.EMPTY.countAtMost(1), 0);
});

Deno.test("emptying a draft gives the empty list", () => {
  const draft = SortedList.from([entry(1, 1, 1), entry(2, 2, 2)]).draft();
  draft.remove(entry(2, 2, 2));
  draft.remove(entry(1, 1, 1));
  assert.equal(draft.freeze(), SortedList.EMPTY);
});
