/**
 * The log appender on its own: a record lands at `before.commit + 1`, an
 * ambiguous write is resolved by reading the record back, another writer's
 * record is a conflict to re-apply on, a newer epoch's record deposes, and a
 * late record whose head moved fences the appender until `reset()`.
 */
import assert from "node:assert/strict";
import { UnavailableError } from "../errors.ts";
import { createState, type QueueState } from "../core/state.ts";
import { FaultyStore } from "../storage/faulty_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { Opened } from "./head.ts";
import { LogAppender, type LogAppenderOptions } from "./log_appender.ts";
import { decodeLogRecord, logKey } from "./log_record.ts";
import { EMPTY_EFFECTS } from "./log_replay.ts";

function appender(
  store: FaultyStore | MemoryStore,
  id: string,
  options: Partial<LogAppenderOptions> = {},
) {
  let nonce = 0;
  const events: string[] = [];
  const log = new LogAppender({
    store,
    prefix: "",
    identity: { id },
    now: () => 1_000,
    newNonce: () => `${id}-${++nonce}`,
    confirmAfterMs: Infinity,
    readHead: () => Promise.resolve({ kind: "absent" }),
    log: (event) => events.push(event.event),
    ...options,
  });
  return { log, events };
}

const empty = (state: QueueState) => ({ before: state, after: state, effects: EMPTY_EFFECTS });

Deno.test("log appender: a record lands at the next sequence number, written by this broker in the given epoch", async () => {
  const store = new MemoryStore();
  const { log } = appender(store, "a");
  const outcome = await log.append(empty(createState()), 3);
  assert.equal(outcome.kind, "landed");
  if (outcome.kind !== "landed") return;
  assert.equal(outcome.record.seq, 1);
  assert.equal(outcome.state.commit, 1);
  const found = decodeLogRecord((await store.get(logKey("", 1)))!.body, logKey("", 1));
  assert.equal(found.epoch, 3);
  assert.equal(found.writer.id, "a");
  assert.equal(found.nonce, outcome.record.nonce);
});

Deno.test("log appender: an ambiguous write that landed is read back as landed; one that did not is written again", async () => {
  const store = new FaultyStore(new MemoryStore());
  const { log, events } = appender(store, "a");
  store.ambiguousNext({ lands: true });
  const first = await log.append(empty(createState()), 1);
  assert.equal(first.kind, "landed");
  if (first.kind !== "landed") return;
  store.ambiguousNext({ lands: false });
  const second = await log.append(empty(first.state), 1);
  assert.equal(second.kind, "landed");
  assert.ok((await store.get(logKey("", 2))) !== null);
  assert.deepEqual(events, ["ambiguous-write", "ambiguous-write"]);
});

Deno.test("log appender: another writer's record at the same number is a conflict with the newer state; a newer epoch's deposes", async () => {
  const store = new MemoryStore();
  const a = appender(store, "a").log;
  const b = appender(store, "b").log;
  const start = createState();
  const first = await b.append(empty(start), 1);
  assert.equal(first.kind, "landed");
  const conflict = await a.append(empty(start), 1);
  assert.equal(conflict.kind, "conflict");
  if (conflict.kind !== "conflict" || first.kind !== "landed") return;
  assert.equal(conflict.state.commit, 1);
  // b moves to epoch 2 at seq 2; a, building on seq 1 in epoch 1, is deposed.
  const after = await b.append(empty(first.state), 2);
  assert.equal(after.kind, "landed");
  const deposed = await a.append(empty(conflict.state), 1);
  assert.deepEqual(deposed, { kind: "deposed", leader: { id: "b" }, epoch: 2 });
});

Deno.test("log appender: a late record whose head moved is an error, fences the appender, and reset() lifts the fence", async () => {
  const store = new MemoryStore();
  let now = 0;
  let head: Opened = {
    kind: "head",
    head: { epoch: 2, leader: { id: "b" }, checkpoint: null },
    etag: "x",
  };
  const { log, events } = appender(store, "a", {
    now: () => now,
    confirmAfterMs: 100,
    readHead: () => Promise.resolve(head),
  });
  now = 1_000;
  const late = await log.append(empty(createState()), 1);
  assert.equal(late.kind, "error");
  if (late.kind === "error") assert.ok(late.error instanceof UnavailableError);
  assert.deepEqual(events, ["late-record"]);
  const fenced = await log.append(empty(createState()), 1);
  assert.deepEqual(fenced, { kind: "deposed", leader: { id: "b" }, epoch: 2 });
  assert.equal(await store.get(logKey("", 2)), null, "nothing written while fenced");
  // A new leadership (epoch 3, led by a) starts unfenced; its first record is confirmed.
  head = { kind: "head", head: { epoch: 3, leader: { id: "a" }, checkpoint: null }, etag: "y" };
  log.reset();
  const caughtUp = await log.append(empty(createState()), 3);
  assert.equal(caughtUp.kind, "conflict", "seq 1 holds the late record: catch up first");
  if (caughtUp.kind !== "conflict") return;
  assert.equal(caughtUp.state.commit, 1);
  const landed = await log.append(empty(caughtUp.state), 3);
  assert.equal(landed.kind, "landed");
  if (landed.kind === "landed") assert.equal(landed.record.seq, 2);
});
