/**
 * Misbehaving clients against a CLI broker process that requires a token:
 * malformed, oversized and unknown frames, bad parameters and wrong tokens all
 * get typed errors, while a well-behaved worker on another connection keeps
 * working undisturbed.
 */
import assert from "node:assert/strict";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/wire.ts";
import { TestClient } from "../server/_test_ws_client.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { startCliBroker, tempDir, waitFor } from "./_helpers.ts";

const TOKEN = "e2e-secret-token";

Deno.test("bad frames and wrong tokens get errors while another client carries on working", async () => {
  await using dir = await tempDir();
  await using broker = await startCliBroker({ data: dir.path, token: TOKEN });

  // A well-behaved worker, running jobs the whole time.
  const client = connectClient({ url: broker.url, token: TOKEN, clientId: "good" });
  const done = new Set<string>();
  const worker = new Worker({
    client,
    workerId: "good-worker",
    concurrency: 2,
    handlers: { echo: (job) => ({ echoed: job.payload }) },
    onJobComplete: (job) => done.add(job.id),
  });
  await worker.start();
  const pushed: string[] = [];
  const pushSome = async (n: number) => {
    const { jobs } = await client.push(
      Array.from({ length: n }, (_, i) => ({ type: "echo", payload: i })),
    );
    pushed.push(...jobs.map((job) => job.id));
  };
  await pushSome(10);
  await waitFor(() => done.size === 10, { message: "the first 10 jobs" });

  // An authenticated connection sending garbage: each frame gets an error reply, the
  // connection stays usable.
  const rude = await TestClient.connect(broker.url, { authorization: `Bearer ${TOKEN}` });
  const notJson = await rude.raw("{this is not json");
  assert.equal(notJson.error?.code, "bad_request");
  const huge = await rude.raw(JSON.stringify({
    id: 1,
    method: "push",
    params: { jobs: [{ type: "echo", payload: "x".repeat(DEFAULT_MAX_FRAME_BYTES) }] },
  }));
  assert.equal(huge.error?.code, "too_large");
  const noEnvelope = await rude.raw(JSON.stringify(["not", "a", "request"]));
  assert.equal(noEnvelope.error?.code, "bad_request");
  const unknown = await rude.call("fly", { to: "the moon" });
  assert.equal(unknown.error?.code, "method_not_found");
  const badParams = await rude.call("push", { jobs: "nope" });
  assert.equal(badParams.error?.code, "validation");
  const badOp = await rude.call("complete", { jobId: "1" });
  assert.equal(badOp.error?.code, "validation");
  const missing = await rude.call("get", { jobId: "999999" });
  assert.equal(missing.error?.code, "job_not_found");
  const stats = await rude.call("stats");
  assert.equal(typeof (stats.result as { commit: number }).commit, "number", "still usable");
  assert.equal(rude.ws.readyState, WebSocket.OPEN);
  await rude.close();

  // A wrong token in hello: `unauthorized`, and after 3 failures the socket is closed (1008).
  const intruder = await TestClient.connect(broker.url);
  const hello = await intruder.call("hello", { token: "wrong" });
  assert.equal(hello.error?.code, "unauthorized");
  const sneaky = await intruder.call("push", { jobs: [{ type: "echo", payload: "evil" }] });
  assert.equal(sneaky.error?.code, "unauthorized");
  intruder.send("stats");
  const closed = await intruder.closed;
  assert.equal(closed.code, 1008);

  // A wrong bearer token on the upgrade: the WebSocket never opens.
  await assert.rejects(
    TestClient.connect(broker.url, { authorization: "Bearer wrong" }),
    /failed to open/,
  );

  // REST: no token or a wrong one is 401, the right one works.
  const post = (headers: Record<string, string>) =>
    fetch(new URL("/v1/jobs", broker.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ type: "echo", payload: "rest" }),
    });
  for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
    const response = await post(headers);
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error.code, "unauthorized");
  }
  const accepted = await post({ authorization: `Bearer ${TOKEN}` });
  assert.equal(accepted.status, 201);
  pushed.push((await accepted.json()).id);

  // The good worker never noticed: it is still connected and finishes more jobs.
  await pushSome(10);
  await waitFor(() => pushed.every((id) => done.has(id)), {
    message: () => `all ${pushed.length} jobs done (got ${done.size})`,
  });
  assert.equal(client.connected, true);
  const totals = (await client.stats()).totals;
  assert.equal(totals.pushed, 21, "nothing from the rude clients was enqueued");
  await waitFor(async () => (await client.stats()).totals.completed === 21);

  await worker.stop();
  await client.close();
  broker.child.kill("SIGTERM");
  assert.equal((await broker.child.exit()).code, 0);
  // The server logged the intruder's connection being closed; no crash, no stack trace.
  assert.ok(!broker.child.stderr.lines.some((line) => /Uncaught|panicked/.test(line)));
});
