import assert from "node:assert/strict";
import { archiveKey, decodeArchive, encodeArchive } from "./archive.ts";
import type { Job } from "../protocol/operations.ts";

Deno.test("archiveKey buckets by UTC hour and sorts by epoch and commit", () => {
  const time = Date.UTC(2026, 10, 22, 19, 59, 59);
  const key = archiveKey({ prefix: "archive/", time, epoch: 3, commit: 42 });
  assert.equal(key, "archive/2026/11/22/19/00000003-000000000042.jsonl");
  const later = archiveKey({ prefix: "archive/", time, epoch: 3, commit: 100 });
  assert.ok(key < later);
});

Deno.test("archive records round-trip as JSON lines", () => {
  const job: Job = {
    id: "j1",
    type: "t",
    payload: { a: "line\nbreak" },
    state: "completed",
    priority: 0,
    runAt: 1,
    attempts: 1,
    maxAttempts: 3,
    backoff: { type: "fixed", delayMs: 0 },
    createdAt: 1,
    updatedAt: 2,
    finishedAt: 2,
  };
  const body = encodeArchive([job, { ...job, id: "j2" }]);
  assert.equal(new TextDecoder().decode(body).split("\n").length, 3);
  assert.deepEqual(decodeArchive(body).map((j) => j.id), ["j1", "j2"]);
  assert.deepEqual(decodeArchive(body)[0], job);
});

Deno.test("archive: lines are compact stored jobs; full records of older archives still decode", () => {
  const job = {
    id: "7",
    type: "t",
    payload: { a: 1 },
    state: "completed" as const,
    priority: 0,
    runAt: 5,
    attempts: 1,
    maxAttempts: 3,
    backoff: { type: "exponential" as const, delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 },
    createdAt: 5,
    updatedAt: 9,
    finishedAt: 9,
    result: null,
  };
  const compact = encodeArchive([job]);
  const full = new TextEncoder().encode(JSON.stringify(job) + "\n");
  assert.ok(compact.length < full.length, `${compact.length} < ${full.length}`);
  assert.deepEqual(decodeArchive(compact), [job]);
  assert.deepEqual(decodeArchive(full), [job]);
});
