/**
 * The examples really run: embedded, quickstart (producer + worker against a
 * CLI broker) and the multi-worker example.
 */
import assert from "node:assert/strict";
import { readQueue, repoPath, runDeno, spawnDeno, startCliBroker, tempDir } from "./_helpers.ts";

Deno.test("examples/embedded: pushes, refuses an invalid payload, completes every job", async () => {
  await using dir = await tempDir();
  const run = await runDeno([repoPath("examples/embedded/main.ts"), "--data", dir.path], {
    name: "embedded",
  });
  assert.equal(run.code, 0, run.child.output());
  assert.match(run.stdout, /^pushed 10 jobs/m);
  assert.match(run.stdout, /^refused: validation: /m);
  assert.match(run.stdout, /^completed 10; ready 0, active 0/m);
  const queue = await readQueue(dir.path);
  assert.equal(queue.stats.totals.pushed, 10, "the invalid payload was not enqueued");
  assert.equal(queue.stats.totals.completed, 10);
});

Deno.test("examples/quickstart: the producer's typed jobs are run by the worker, which stops on SIGINT", async () => {
  await using dir = await tempDir();
  await using broker = await startCliBroker({ data: dir.path });
  const env = { OSQUEUE_URL: broker.url };

  const producer = await runDeno([repoPath("examples/quickstart/producer.ts")], {
    name: "producer",
    env,
  });
  assert.equal(producer.code, 0, producer.child.output());
  assert.match(producer.stdout, /resubmitted: (\S+) \(duplicate: true\)/);
  assert.match(producer.stdout, /^refused: invalid payload for job type "email:send"/m);
  const ids = [...producer.stdout.matchAll(/\b(?:email:send|report:generate) (\d+)\b/g)]
    .map((m) => m[1]);
  const batch = /submitted a batch: (\S+), (\S+)/.exec(producer.stdout);
  assert.ok(batch !== null, producer.stdout);
  const expected = [...new Set([...ids, batch[1], batch[2]])].sort();
  assert.equal(expected.length, 5, `5 distinct jobs: ${expected}`);

  await using worker = spawnDeno(
    [repoPath("examples/quickstart/worker.ts"), "--url", broker.url, "--concurrency", "3"],
    { name: "worker" },
  );
  for (const id of expected) {
    await worker.stdout.waitFor(new RegExp(`^complete (email:send|report:generate) ${id} -> `));
  }
  // The flaky email failed once and was retried.
  const flaky = await worker.stdout.waitFor(/^fail +email:send (\S+): simulated SMTP timeout/);
  assert.ok(worker.stdout.lines.includes(`start    email:send ${flaky[1]} (attempt 2)`));

  worker.kill("SIGINT");
  assert.equal((await worker.exit()).code, 0, worker.output());
  assert.match(worker.stdout.lines.at(-1) ?? "", /stopped$/);
  broker.child.kill("SIGINT");
  assert.equal((await broker.child.exit()).code, 0, broker.child.output());

  const queue = await readQueue(dir.path);
  for (const id of expected) assert.equal(queue.find(id)?.state, "completed", `job ${id}`);
  assert.equal(queue.find(flaky[1])?.attempts, 2);
  assert.deepEqual(queue.find(batch[2])?.result, {
    url: "https://reports.example.com/2025-01.pdf",
  });
  assert.equal(queue.stats.totals.pushed, 5);
});

Deno.test("examples/workers: 3 worker processes share the jobs, each done exactly once", async () => {
  const run = await runDeno(
    [repoPath("examples/workers/main.ts"), "--workers", "3", "--jobs", "30", "--work-ms", "20"],
    { name: "workers", timeoutMs: 30_000 },
  );
  assert.equal(run.code, 0, run.child.output());
  const counts = run.child.stdout.matching(/^ {2}(worker-\d): (\d+)$/);
  assert.deepEqual(counts.map((m) => m[1]), ["worker-1", "worker-2", "worker-3"]);
  assert.equal(counts.reduce((sum, m) => sum + Number(m[2]), 0), 30);
  assert.match(run.stdout, /total 30 of 30 jobs; completed 30; duplicates 0; missing 0/);
  assert.match(run.stdout, /OK: every job was processed exactly once/);
  assert.equal(run.child.stdout.matching(/worker-\d stopped after \d+ jobs/).length, 3);
});
