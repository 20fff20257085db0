/**
 * Fencing cases of the state store that the deterministic simulator found
 * (`tests/sim/`), each reduced to a few direct calls: a broker never writes
 * in an epoch lower than the state it read, never adopts another broker's
 * epoch, never installs a checkpoint of a leadership it lost, and never
 * counts a record that landed in a sequence number another leader already
 * used and garbage-collected.
 */
import assert from "node:assert/strict";
import { MemoryStore } from "../storage/memory_store.ts";
import { decodeHead, type Head } from "./head.ts";
import { logKey } from "./log_record.ts";
import { EMPTY_EFFECTS } from "./log_replay.ts";
import { type LoadedState, StateStore } from "./state_store.ts";

function stores(options: { confirmAfterMs?: number } = {}) {
  const store = new MemoryStore();
  let now = 1_000;
  const clock = {
    now: () => now,
    advance: (ms: number) => now += ms,
  };
  const make = (id: string) =>
    new StateStore({ store, prefix: "", identity: { id }, now: clock.now, ...options });
  return { store, clock, a: make("a"), b: make("b") };
}

async function takeOver(state: StateStore): Promise<LoadedState> {
  const opened = await state.open();
  assert.equal(opened.kind, "head");
  if (opened.kind !== "head") throw new Error("no head");
  const loaded = await state.takeOver(opened);
  assert.ok(loaded !== null, "takeover failed");
  return loaded;
}

async function headOf(store: MemoryStore): Promise<Head> {
  const content = decodeHead((await store.get("queue.json"))!.body);
  if (content.kind !== "head") throw new Error("not a head");
  return content.head;
}

Deno.test("state store: a broker never appends in an epoch lower than the state it builds on (sim seed 6)", async () => {
  const { store, a, b } = stores();
  const created = await a.create();
  assert.ok(created !== null);
  await takeOver(b); // epoch 2, fence at seq 2
  // A reads the log (as a slow takeover would) and sees epoch 2's record.
  const read = await a.load();
  assert.equal(read.state.epoch, 2);
  const outcome = await a.append({ before: read.state, after: read.state, effects: EMPTY_EFFECTS });
  assert.equal(outcome.kind, "deposed");
  assert.equal(await store.get(logKey("", 3)), null, "nothing written in epoch 1 after epoch 2");
});

Deno.test("state store: re-reading the head after a failed checkpoint CAS does not adopt the new epoch (sim seed 47)", async () => {
  const { a, b } = stores();
  const created = await a.create();
  assert.ok(created !== null);
  await takeOver(b);
  assert.equal(await a.installCheckpoint({ seq: 1, key: "checkpoints/x.json" }), false);
  assert.equal(a.head.epoch, 1, "a keeps its own epoch");
  const outcome = await a.append({
    before: created.state,
    after: created.state,
    effects: EMPTY_EFFECTS,
  });
  assert.equal(outcome.kind, "deposed");
});

Deno.test("state store: a checkpoint of a lost leadership is not installed, even on a fresh etag (sim seed 7089)", async () => {
  const { store, a, b } = stores();
  assert.ok(await a.create() !== null);
  await takeOver(b);
  await a.open(); // a, now a standby, reads b's head (and its etag)
  const before = await headOf(store);
  assert.equal(await a.installCheckpoint({ seq: 1, key: "checkpoints/x.json" }, 1), false);
  assert.deepEqual(await headOf(store), before, "the head is untouched");
});

Deno.test("state store: a record landing in a sequence number already collected does not count (sim seeds 73, 181)", async () => {
  const { store, clock, a, b } = stores({ confirmAfterMs: 500 });
  const created = await a.create();
  assert.ok(created !== null);
  const stale = created.state; // a is frozen here, about to write seq 2
  clock.advance(10_000);
  const loaded = await takeOver(b); // epoch 2, fence at seq 2
  let state = loaded.state;
  for (let i = 0; i < 3; i++) {
    const outcome = await b.append({ before: state, after: state, effects: EMPTY_EFFECTS });
    assert.equal(outcome.kind, "landed");
    if (outcome.kind === "landed") state = outcome.state;
  }
  // b checkpoints past seq 4 and collects log records 1..4 (simulated here by deleting them).
  for (let seq = 1; seq <= 4; seq++) await store.delete(logKey("", seq));
  // a thaws: its write of seq 2 now succeeds (the key is free again)…
  const late = await a.append({ before: stale, after: stale, effects: EMPTY_EFFECTS });
  assert.notEqual(late.kind, "landed", "a record in a collected sequence number must not count");
  assert.ok((await store.get(logKey("", 2))) !== null, "it did land");
  // …and a writes nothing more in epoch 1.
  const next = await a.append({ before: stale, after: stale, effects: EMPTY_EFFECTS });
  assert.equal(next.kind, "deposed");
});

Deno.test("state store: a record landing soon after the previous one needs no extra read", async () => {
  const { store, clock, a } = stores({ confirmAfterMs: 500 });
  const created = await a.create();
  assert.ok(created !== null);
  let state = created.state;
  let gets = 0;
  const get = store.get.bind(store);
  store.get = (key: string) => {
    gets++;
    return get(key);
  };
  for (let i = 0; i < 5; i++) {
    clock.advance(10);
    const outcome = await a.append({ before: state, after: state, effects: EMPTY_EFFECTS });
    assert.equal(outcome.kind, "landed");
    if (outcome.kind === "landed") state = outcome.state;
  }
  assert.equal(gets, 0);
  clock.advance(5_000);
  const outcome = await a.append({ before: state, after: state, effects: EMPTY_EFFECTS });
  assert.equal(outcome.kind, "landed");
  assert.equal(gets, 1, "after an idle gap, one head read confirms the record");
});
