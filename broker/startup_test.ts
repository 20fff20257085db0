import assert from "node:assert/strict";
import { UnavailableError } from "../errors.ts";
import { applyBatch } from "../core/apply.ts";
import { createState, encodeState, listJobs, withCommit } from "../core/state.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { decodeHead, type Head } from "./head.ts";
import { openSharedQueue } from "./startup.ts";
import { StateStore } from "./state_store.ts";

function stateStore(store: MemoryStore, id: string): StateStore {
  return new StateStore({ store, prefix: "", identity: { id }, now: () => 1_000 });
}

async function headOf(store: MemoryStore): Promise<Head> {
  const content = decodeHead((await store.get("queue.json"))!.body);
  if (content.kind !== "head") throw new Error("not a head");
  return content.head;
}

Deno.test("openSharedQueue: creates an absent queue", async () => {
  const store = new MemoryStore();
  const loaded = await openSharedQueue(stateStore(store, "a"));
  assert.equal(loaded.head.epoch, 1);
  assert.equal((await headOf(store)).epoch, 1);
});

Deno.test("openSharedQueue: loads an existing head as it is, in its epoch (no takeover)", async () => {
  const store = new MemoryStore();
  const leader = stateStore(store, "leader");
  const created = await leader.create();
  assert.ok(created !== null);
  const before = await headOf(store);
  const loaded = await openSharedQueue(stateStore(store, "instance"));
  assert.equal(loaded.state.commit, created.state.commit);
  assert.deepEqual(await headOf(store), before, "the head is untouched");
});

Deno.test("openSharedQueue: converts a version-1 state", async () => {
  const store = new MemoryStore();
  const pushed = applyBatch(createState(), [{ op: "push", jobs: [{ type: "t", payload: 1 }] }], {
    now: 1_000,
    defaultLeaseMs: 1_000,
    newToken: () => "t",
    random: () => 0,
  });
  const v1 = withCommit(pushed.state, { leader: null, epoch: 4 });
  await store.put("queue.json", encodeState(v1));
  const loaded = await openSharedQueue(stateStore(store, "a"));
  assert.deepEqual(listJobs(loaded.state), listJobs(v1));
  assert.equal((await headOf(store)).epoch, 5);
});

Deno.test("openSharedQueue: a lost race re-reads the head; a head that keeps changing is unavailable", async () => {
  const store = new MemoryStore();
  assert.ok(await stateStore(store, "other").create() !== null);
  // This instance first reads "absent" (the other created the queue meanwhile): create loses.
  const racing = stateStore(store, "a");
  const open = racing.open.bind(racing);
  let opens = 0;
  racing.open = () => opens++ === 0 ? Promise.resolve({ kind: "absent" }) : open();
  const loaded = await openSharedQueue(racing);
  assert.equal(opens, 2);
  assert.equal(loaded.head.epoch, 1);
  // Always "absent", always lost: it gives up after a few tries.
  const unlucky = stateStore(store, "b");
  let tries = 0;
  unlucky.open = () => (tries++, Promise.resolve({ kind: "absent" }));
  await assert.rejects(openSharedQueue(unlucky), UnavailableError);
  assert.equal(tries, 9);
});
