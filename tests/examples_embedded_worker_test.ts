/**
 * `examples/embedded_worker/main.ts` really runs: a `Worker` embedded against
 * a `Broker` on a directory completes every job, one after a retry.
 */
import assert from "node:assert/strict";
import { readQueue, repoPath, runDeno, tempDir } from "./_helpers.ts";

Deno.test("examples/embedded_worker: the embedded Worker completes every job, retrying one", async () => {
  await using dir = await tempDir();
  const run = await runDeno(
    [repoPath("examples/embedded_worker/main.ts"), "--data", dir.path, "--jobs", "8"],
    { name: "embedded_worker" },
  );
  assert.equal(run.code, 0, run.child.output());
  assert.match(run.stdout, /^pushed 8 jobs$/m);
  assert.match(run.stdout, /^fail +\S+ \(attempt 1\): Error: simulated decoder crash$/m);
  assert.match(run.stdout, /^complete \S+ \(attempt 2\) -> \{"thumbnail":"img-3\.png@128w"\}$/m);
  assert.match(run.stdout, /^completed 8; failed attempts 1$/m);
  const queue = await readQueue(dir.path);
  assert.equal(queue.stats.totals.pushed, 8);
  assert.equal(queue.stats.totals.completed, 8);
});
