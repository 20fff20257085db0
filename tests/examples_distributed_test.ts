/**
 * `examples/distributed/main.ts` really runs: its broker, publisher and
 * consumers as separate processes.
 */
import assert from "node:assert/strict";
import { connectClient } from "../worker/client.ts";
import { readQueue, repoPath, runDeno, spawnDeno, tempDir } from "./_helpers.ts";

const MAIN = repoPath("examples/distributed/main.ts");

Deno.test("examples/distributed: broker, publisher 10, consumer; all 10 complete; SIGINT exits 0", async () => {
  await using dir = await tempDir();
  await using broker = spawnDeno([MAIN, "broker", "--listen", "127.0.0.1:0", "--data", dir.path], {
    name: "broker",
  });
  const [, url] = await broker.stdout.waitFor(/^\[broker\] listening on (http:\/\/\S+) as leader/);

  const published = await runDeno([MAIN, "publisher", "10", "--url", url], { name: "publisher" });
  assert.equal(published.code, 0, published.child.output());
  const ids = published.child.stdout.matching(/^\[publisher\] pushed task (\d+) \(job (\S+)\)$/);
  assert.deepEqual(ids.map((m) => Number(m[1])), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.match(published.stdout, /\[publisher\] done/);
  const jobIds = ids.map((m) => m[2]);

  await using consumer = spawnDeno(
    [MAIN, "consumer", "--url", url, "--worker", "c1", "--work-ms", "100"],
    { name: "consumer" },
  );
  for (const id of jobIds) {
    await consumer.stdout.waitFor(new RegExp(`^\\[consumer c1\\] completed job ${id}$`));
  }
  const claimed = consumer.stdout.matching(/claimed job (\S+): (\{.*\}) \(attempt (\d+)\)$/);
  assert.deepEqual(claimed.map((m) => m[1]), jobIds);
  assert.deepEqual(JSON.parse(claimed[0][2]), { id: 1, message: "task-1" });

  consumer.kill("SIGINT");
  assert.equal((await consumer.exit()).code, 0, consumer.output());
  assert.match(consumer.stdout.lines.at(-1) ?? "", /stopped after completing 10 jobs/);
  broker.kill("SIGINT");
  assert.equal((await broker.exit()).code, 0, broker.output());
  assert.match(broker.stdout.lines.at(-1) ?? "", /\[broker\] stopped/);

  const queue = await readQueue(dir.path);
  for (const id of jobIds) {
    const job = queue.find(id);
    assert.equal(job?.state, "completed", `job ${id}`);
    assert.deepEqual(job?.result, { by: "c1" });
  }
  assert.equal(queue.stats.totals.completed, 10);
});

Deno.test("examples/distributed: a consumer interrupted mid-job finishes it, then exits 0", async () => {
  await using dir = await tempDir();
  await using broker = spawnDeno([MAIN, "broker", "--listen", "127.0.0.1:0", "--data", dir.path], {
    name: "broker",
  });
  const [, url] = await broker.stdout.waitFor(/listening on (http:\/\/\S+) as leader/);
  await using consumer = spawnDeno(
    [MAIN, "consumer", "--url", url, "--worker", "slow", "--work-ms", "1500"],
    { name: "consumer" },
  );
  await consumer.stdout.waitFor(/waiting for jobs/);
  const published = await runDeno([MAIN, "publisher", "2", "--url", url], { name: "publisher" });
  assert.equal(published.code, 0, published.child.output());

  const [, id] = await consumer.stdout.waitFor(/claimed job (\S+):/);
  consumer.kill("SIGINT");
  await consumer.stdout.waitFor(/stopping after job/);
  assert.equal((await consumer.exit()).code, 0, consumer.output());
  assert.ok(consumer.stdout.lines.includes(`[consumer slow] completed job ${id}`));
  assert.equal(consumer.stdout.matching(/claimed job/).length, 1, "it stopped claiming");

  // The other task is still there for someone else.
  const client = connectClient({ url });
  try {
    const stats = await client.stats();
    assert.equal(stats.totals.completed, 1);
    assert.equal(stats.ready, 1);
    assert.equal(stats.active, 0);
  } finally {
    await client.close();
  }
  broker.kill("SIGTERM");
  assert.equal((await broker.exit()).code, 0, broker.output());
});
