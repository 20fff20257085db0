import assert from "node:assert/strict";
import type { Job } from "../protocol/operations.ts";
import { DEFAULT_BACKOFF } from "./backoff.ts";
import { formatJobId } from "./job_id.ts";
import { CHUNK_SIZE, JobTable } from "./job_table.ts";

const job = (seq: number, payload: number = seq): Job => ({
  id: formatJobId(seq),
  type: "t",
  payload,
  state: "ready",
  priority: 0,
  runAt: 0,
  attempts: 0,
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  createdAt: 0,
  updatedAt: 0,
});

const decodeChunks = (table: JobTable) =>
  JSON.parse(`[${table.encodedChunks().map((b) => new TextDecoder().decode(b)).join(",")}]`);

Deno.test("a draft copies on write: the base table never changes", () => {
  const count = CHUNK_SIZE * 3 + 5;
  const base = JobTable.fromSorted(Array.from({ length: count }, (_, i) => ({
    seq: i + 1,
    job: job(i + 1),
  })));
  assert.equal(base.size, count);
  const draft = base.draft();
  draft.set(2, job(2, -2));
  assert.equal(draft.delete(CHUNK_SIZE + 1), true);
  assert.equal(draft.delete(CHUNK_SIZE + 1), false);
  assert.equal(draft.delete(10_000), false);
  draft.set(count + 1, job(count + 1));
  const next = draft.freeze();
  assert.equal(base.get(2)?.payload, 2);
  assert.equal(base.get(CHUNK_SIZE + 1)?.payload, CHUNK_SIZE + 1);
  assert.equal(base.get(count + 1), undefined);
  assert.equal(base.size, count);
  assert.equal(next.get(2)?.payload, -2);
  assert.equal(next.get(CHUNK_SIZE + 1), undefined);
  assert.equal(next.size, count);
  assert.deepEqual([...next].map((j) => j.payload).slice(0, 3), [1, -2, 3]);
});

Deno.test("encoded chunks follow the jobs, in order, with caching that never goes stale", () => {
  const entries = Array.from(
    { length: CHUNK_SIZE * 2 },
    (_, i) => ({ seq: i + 1, job: job(i + 1) }),
  );
  const base = JobTable.fromSorted(entries);
  const first = base.encodedChunks();
  assert.equal(base.encodedChunks()[0], first[0], "cached bytes are reused");
  const draft = base.draft();
  draft.set(5, job(5, 500));
  for (let seq = CHUNK_SIZE; seq < CHUNK_SIZE * 2; seq++) draft.delete(seq); // empties chunk 1
  const next = draft.freeze();
  const payloads = decodeChunks(next).map((j: { payload: number }) => j.payload);
  assert.equal(payloads.length, next.size);
  assert.equal(payloads[4], 500);
  assert.deepEqual(
    decodeChunks(base).map((j: { id: string }) => j.id),
    entries.map((e) => e.job.id),
  );
});

Deno.test("sequence numbers past 2^31 work", () => {
  const big = 2 ** 40 + 3;
  const draft = JobTable.EMPTY.draft();
  draft.set(big, job(big));
  draft.set(big + 1, job(big + 1));
  const table = draft.freeze();
  assert.equal(table.get(big)?.id, formatJobId(big));
  assert.equal(table.get(big + 1)?.id, formatJobId(big + 1));
  assert.equal(table.get(3), undefined);
});
