import assert from "node:assert/strict";
import type { Job } from "../protocol/operations.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { InstrumentedStore } from "../storage/instrumented_store.ts";
import { archiveKey, encodeArchive } from "../core/archive.ts";
import { ArchiveReader } from "./archive_reader.ts";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 22, 10, 30);

function job(n: number, state: Job["state"], type = "mail"): Job {
  return {
    id: n.toString(36),
    type,
    payload: { n },
    state,
    priority: 0,
    runAt: T0,
    attempts: 1,
    maxAttempts: 3,
    backoff: { type: "exponential", delayMs: 1000 },
    createdAt: T0,
    updatedAt: T0,
    finishedAt: T0,
  };
}

/** Writes archive objects: each entry is [time, commit, jobs]. */
async function archive(
  store: MemoryStore,
  prefix: string,
  objects: [number, number, Job[]][],
): Promise<void> {
  for (const [time, commit, jobs] of objects) {
    const key = archiveKey({ prefix: prefix + "archive/", time, epoch: 1, commit });
    await store.put(key, encodeArchive(jobs));
  }
}

Deno.test("ArchiveReader.list pages newest first across hours and days, by state and type", async () => {
  const store = new MemoryStore();
  await archive(store, "q/", [
    [T0 - 30 * HOUR, 1, [job(1, "completed"), job(2, "dead")]], // the day before
    [T0, 5, [job(3, "completed"), job(4, "completed", "sms"), job(5, "dead")]],
    [T0 + HOUR, 9, [job(6, "completed"), job(7, "cancelled")]],
  ]);
  await store.put("q/queue.json", new Uint8Array([1])); // not an archive object
  const reader = new ArchiveReader({ store, prefix: "q/", now: () => T0 + 2 * HOUR });
  const all = await reader.list({ limit: 100 });
  assert.deepEqual(all.jobs.map((j) => Number.parseInt(j.id, 36)), [7, 6, 5, 4, 3, 2, 1]);
  assert.equal(all.next, undefined);

  const ids: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await reader.list({ state: "completed", limit: 2, cursor });
    ids.push(...page.jobs.map((j) => Number.parseInt(j.id, 36)));
    cursor = page.next;
    pages++;
  } while (cursor !== undefined);
  assert.deepEqual(ids, [6, 4, 3, 1]);
  assert.equal(pages, 2);

  const mail = await reader.list({ state: "completed", type: "mail" });
  assert.deepEqual(mail.jobs.map((j) => j.id), ["6", "3", "1"]);
  const recent = await reader.list({ from: T0 + HOUR });
  assert.deepEqual(recent.jobs.map((j) => j.id), ["7", "6"]);
  const older = await reader.list({ to: T0 - HOUR });
  assert.deepEqual(older.jobs.map((j) => j.id), ["2", "1"]);
  await assert.rejects(() => reader.list({ cursor: "nonsense" }), /malformed/);
});

Deno.test("ArchiveReader.find returns an archived job by id; reads are cached", async () => {
  const store = new MemoryStore();
  await archive(store, "", [[T0, 1, [job(1, "completed"), job(2, "dead")]]]);
  let gets = 0;
  const counting = new InstrumentedStore({
    store,
    observe: (call) => {
      if (call.op === "get") gets++;
    },
  });
  const reader = new ArchiveReader({ store: counting, now: () => T0 });
  assert.equal((await reader.find("2"))?.state, "dead");
  assert.equal(await reader.find("9"), undefined);
  assert.equal((await reader.find("1"))?.state, "completed");
  assert.equal(gets, 1, "one archive object, read once");
});
