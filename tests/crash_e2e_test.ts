/**
 * Crashes across real OS processes: the CLI broker (`cli/main.ts broker`) on a
 * temp `--data` directory, consumer processes (`tests/_consumer_child.ts`),
 * and SIGKILL.
 */
import assert from "node:assert/strict";
import { connectClient } from "../worker/client.ts";
import {
  freePort,
  readQueue,
  repoPath,
  spawnDeno,
  startCliBroker,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const CONSUMER = repoPath("tests/_consumer_child.ts");

function consumer(url: string, worker: string, workMs: number) {
  return spawnDeno([CONSUMER, "--url", url, "--worker", worker, "--work-ms", String(workMs)], {
    name: worker,
  });
}

Deno.test("a consumer SIGKILLed mid-job: the job is redelivered after the lease and completed once", async () => {
  await using dir = await tempDir();
  await using broker = await startCliBroker({
    data: dir.path,
    heartbeatTimeout: "1s",
    heartbeatCheck: "200ms",
  });
  const client = connectClient({ url: broker.url, clientId: "test" });
  try {
    const { jobs: [{ id }] } = await client.push({ type: "task", payload: { n: 1 } });

    // Consumer A claims the job, heartbeats, and would work on it for a minute.
    await using a = consumer(broker.url, "consumer-a", 60_000);
    const claimedByA = await a.stdout.waitFor(/^claimed (\S+) (\d+)$/);
    assert.deepEqual(claimedByA.slice(1), [id, "1"]);
    assert.equal((await client.get(id)).job.lease?.workerId, "consumer-a");
    a.kill("SIGKILL");
    const status = await a.status;
    assert.equal(status.success, false);
    assert.equal(status.signal, "SIGKILL");

    // Consumer B gets it once A's lease has run out (1 s without heartbeats).
    await using b = consumer(broker.url, "consumer-b", 20);
    const claimedByB = await b.stdout.waitFor(/^claimed (\S+) (\d+)$/);
    assert.deepEqual(claimedByB.slice(1), [id, "2"], "B got the job as its second attempt");
    await b.stdout.waitFor(new RegExp(`^completed ${id}$`));
    const { job } = await client.get(id);
    assert.equal(job.state, "completed");
    assert.equal(job.attempts, 2);
    assert.deepEqual(job.result, { by: "consumer-b" });
    assert.match(job.lastError ?? "", /expired/i, "the first attempt ended by lease expiry");
    const stats = await client.stats();
    assert.equal(stats.totals.expired, 1);
    assert.equal(stats.totals.completed, 1);

    b.kill("SIGINT");
    assert.equal((await b.exit()).code, 0);
    assert.equal(b.stdout.matching(/^completed /).length, 1, "B completed exactly one job");
    assert.equal(b.stdout.matching(/^claimed /).length, 1, "nothing was delivered twice");
  } finally {
    await client.close();
  }
  broker.child.kill("SIGINT");
  assert.equal((await broker.child.exit()).code, 0, broker.child.output());
});

Deno.test("the broker SIGKILLed and restarted on the same data: no acknowledged push or completion is lost", async () => {
  await using dir = await tempDir();
  const port = freePort();
  const options = {
    data: dir.path,
    listen: `127.0.0.1:${port}`,
    identity: "", // the default, HOSTNAME:PORT: the restart on the same port takes over at once
    heartbeatTimeout: "1s",
    heartbeatCheck: "200ms",
  };
  const first = await startCliBroker({ ...options, name: "broker-1" });
  const url = first.url;
  await using work = consumer(url, "consumer", 10);
  const client = connectClient({
    url,
    clientId: "pusher",
    requestTimeoutMs: 3000,
    reconnect: { minDelayMs: 50, maxDelayMs: 200 },
  });
  const acked: string[] = [];
  try {
    // Push batches of 5 back to back; SIGKILL the broker while pushes are in flight.
    let killed = false;
    let batches = 0;
    let errors = 0;
    const pushing = (async () => {
      while (!killed || errors === 0) {
        const batch = batches++;
        try {
          const { jobs } = await client.push(
            Array.from({ length: 5 }, (_, i) => ({
              type: "task",
              payload: { batch, i },
              idempotencyKey: `b${batch}-${i}`,
            })),
          );
          acked.push(...jobs.map((job) => job.id));
        } catch {
          errors++; // in flight at the kill: it may or may not have landed
          if (killed) return;
        }
        if (batches > 200) return;
      }
    })();
    await waitFor(() => acked.length >= 40, { message: "40 acknowledged pushes" });
    await work.stdout.waitFor(/^completed /);
    first.child.kill("SIGKILL");
    killed = true;
    assert.equal((await first.child.status).signal, "SIGKILL");
    await pushing;
    const ackedBeforeCrash = acked.length;

    // Restart on the same data and port, so the same default identity: it takes its
    // leadership back at once (startCliBroker waits for the "leader on" line).
    await using second = await startCliBroker({ ...options, name: "broker-2" });
    assert.equal(second.url, url);
    // The client and the consumer reconnect by themselves; push a few more.
    const { jobs } = await client.push(
      Array.from({ length: 5 }, (_, i) => ({ type: "task", payload: { after: i } })),
    );
    acked.push(...jobs.map((job) => job.id));
    assert.ok(ackedBeforeCrash >= 40);

    // Everything that landed gets done: nothing ready, delayed or active is left.
    await waitFor(async () => {
      const stats = await client.stats();
      return stats.ready + stats.delayed + stats.active === 0;
    }, { timeoutMs: 15_000, message: "the queue to drain after the restart" });

    work.kill("SIGINT");
    assert.equal((await work.exit()).code, 0, work.output());
    await client.close();
    second.child.kill("SIGINT");
    assert.equal((await second.child.exit()).code, 0, second.child.output());

    const queue = await readQueue(dir.path);
    const notCompleted = acked.filter((id) => queue.find(id)?.state !== "completed");
    assert.deepEqual(notCompleted, [], "acknowledged pushes lost or not completed");
    const completedLines = work.stdout.matching(/^completed (\S+)$/).map((m) => m[1]);
    const lostCompletions = completedLines.filter((id) => queue.find(id)?.state !== "completed");
    assert.deepEqual(lostCompletions, [], "acknowledged completions lost");
    assert.equal(new Set(completedLines).size, completedLines.length, "a job completed twice");
    const { totals } = queue.stats;
    assert.equal(totals.completed, totals.pushed, JSON.stringify(totals));
    assert.equal(totals.dead, 0);
    assert.ok(totals.pushed >= acked.length);
  } finally {
    await client.close();
    await first[Symbol.asyncDispose]();
  }
});
