import assert from "node:assert/strict";
import { JobNotFoundError, LeaseLostError, NotLeaderError, OverloadedError } from "../errors.ts";
import type { Job, Operation } from "../protocol/operations.ts";
import { deferred, FakeBackend, fakeJob } from "./_test_fake_backend.ts";
import { TestClient } from "./_test_ws_client.ts";
import { createBrokerHandler, serveBroker, type ServeBrokerOptions } from "./server.ts";

async function withServer(
  options: Omit<ServeBrokerOptions, "backend"> & { backend?: FakeBackend },
  fn: (ctx: { url: string; backend: FakeBackend }) => Promise<void>,
): Promise<void> {
  const backend = options.backend ?? new FakeBackend();
  const server = serveBroker({ ...options, backend, port: 0 });
  try {
    await fn({ url: server.url, backend });
  } finally {
    await server.shutdown();
  }
}

const JSON_TYPE = { "content-type": "application/json" };

function sampleJob(id: string): Job {
  return {
    id,
    type: "t",
    payload: null,
    state: "ready",
    priority: 0,
    runAt: 0,
    attempts: 0,
    maxAttempts: 3,
    backoff: { type: "fixed", delayMs: 0 },
    createdAt: 0,
    updatedAt: 0,
  };
}

Deno.test("ws: replies correlate by id and may come out of order", async () => {
  const backend = new FakeBackend();
  const slow = deferred<unknown>();
  backend.handlers.get = (op) => {
    const { jobId } = op as Extract<Operation, { op: "get" }>;
    return jobId === "slow" ? slow.promise : { job: sampleJob(jobId) };
  };
  await withServer({ backend }, async ({ url }) => {
    const client = await TestClient.connect(url);
    const slowId = client.send("get", { jobId: "slow" }, "a");
    const fastId = client.send("get", { jobId: "fast" }, 7);
    const fast = await client.next((f) => f.id === fastId);
    assert.equal((fast.result as { job: Job }).job.id, "fast");
    assert.equal(client.frames.length, 1, "the slow reply is still pending");
    slow.resolve({ job: sampleJob("slow") });
    const slowReply = await client.next((f) => f.id === slowId);
    assert.equal((slowReply.result as { job: Job }).job.id, "slow");
    assert.deepEqual(backend.ops("get").map((o) => o.jobId), ["slow", "fast"]);
    await client.close();
  });
});

Deno.test("ws: bad frames get the right error code; other clients keep working", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 1 });
  await withServer({ backend, maxFrameBytes: 1024 }, async ({ url }) => {
    const bad = await TestClient.connect(url);
    const good = await TestClient.connect(url);

    const json = await bad.raw("{not json");
    assert.equal(json.error?.code, "bad_request");

    const binary = await bad.raw(new Uint8Array([1, 2, 3]));
    assert.equal(binary.error?.code, "bad_request");

    const huge = await bad.raw(JSON.stringify({ id: 1, method: "stats", pad: "x".repeat(2000) }));
    assert.equal(huge.error?.code, "too_large");
    const hugeBinary = await bad.raw(new Uint8Array(2000));
    assert.equal(hugeBinary.error?.code, "too_large");
    // multi-byte characters count as bytes, not UTF-16 units
    const wide = await bad.raw(JSON.stringify({ id: 1, method: "stats", pad: "é".repeat(600) }));
    assert.equal(wide.error?.code, "too_large");

    bad.ws.send(JSON.stringify({ id: 5 })); // no method: the id is still echoed
    const envelope = await bad.next((f) => f.id === 5);
    assert.equal(envelope.error?.code, "bad_request");
    const badId = await bad.raw(JSON.stringify({ id: { x: 1 }, method: "stats" }));
    assert.equal(badId.error?.code, "bad_request");

    const unknown = await bad.call("frobnicate", {});
    assert.equal(unknown.error?.code, "method_not_found");

    const invalid = await bad.call("heartbeat", { jobId: "" });
    assert.equal(invalid.error?.code, "validation");
    assert.match(invalid.error?.message ?? "", /jobId/);
    assert.match(invalid.error?.message ?? "", /leaseToken/);

    const notObject = await bad.call("get", ["x"]);
    assert.equal(notObject.error?.code, "validation");

    const badSubscribe = await bad.call("subscribe", { workerId: "w", credits: -1 });
    assert.equal(badSubscribe.error?.code, "validation");
    const creditFirst = await bad.call("credit", { credits: 1 });
    assert.equal(creditFirst.error?.code, "bad_request");

    assert.equal(backend.requests.length, 0, "bad input never reaches the backend");
    assert.deepEqual((await good.call("stats")).result, { ready: 1 });
    assert.deepEqual(
      (await bad.call("stats")).result,
      { ready: 1 },
      "the bad client is still open",
    );
    await bad.close();
    await good.close();
  });
});

Deno.test("ws: backend error codes cross the wire unchanged", async () => {
  const backend = new FakeBackend();
  backend.handlers.push = () => {
    throw new NotLeaderError("not me", { data: { leaderUrl: "http://leader:1" } });
  };
  backend.handlers.complete = () => {
    throw new LeaseLostError("stale token");
  };
  backend.handlers.get = () => {
    throw new JobNotFoundError();
  };
  backend.handlers.stats = () => {
    throw new TypeError("boom");
  };
  await withServer({ backend }, async ({ url }) => {
    const client = await TestClient.connect(url);
    const push = await client.call("push", { jobs: [{ type: "t", payload: 1 }] });
    assert.deepEqual(push.error, {
      code: "not_leader",
      message: "not me",
      data: { leaderUrl: "http://leader:1" },
    });
    const complete = await client.call("complete", { jobId: "j", leaseToken: "l" });
    assert.equal(complete.error?.code, "lease_lost");
    assert.equal((await client.call("get", { jobId: "j" })).error?.code, "job_not_found");
    assert.equal((await client.call("stats")).error?.code, "internal");
    await client.close();
  });
});

Deno.test("ws: requests in flight per connection are capped", async () => {
  const backend = new FakeBackend();
  const gate = deferred<unknown>();
  backend.handlers.get = () => gate.promise;
  await withServer({ backend, maxPendingPerConnection: 2 }, async ({ url }) => {
    const client = await TestClient.connect(url);
    const other = await TestClient.connect(url);
    const a = client.send("get", { jobId: "a" });
    const b = client.send("get", { jobId: "b" });
    const c = await client.call("get", { jobId: "c" });
    assert.equal(c.error?.code, "overloaded");
    const d = other.send("get", { jobId: "d" }); // another connection has its own budget
    await backend.until(() => backend.ops("get").length === 3, "three gets");
    gate.resolve({ job: sampleJob("x") });
    for (const [cl, id] of [[client, a], [client, b], [other, d]] as const) {
      assert.ok((await cl.next((f) => f.id === id)).result);
    }
    assert.ok((await client.call("get", { jobId: "e" })).result, "budget freed");
    await client.close();
    await other.close();
  });
});

Deno.test("auth: hello token, bearer upgrade, failures close with 1008", async () => {
  const backend = new FakeBackend();
  backend.info = { leader: false, brokerId: "b2", leaderUrl: "http://leader:9" };
  backend.handlers.stats = () => ({ ok: 1 });
  await withServer({ backend, token: "s3cret" }, async ({ url }) => {
    // hello with the right token
    const client = await TestClient.connect(url);
    assert.equal((await client.call("stats")).error?.code, "unauthorized");
    const hello = await client.call("hello", { token: "s3cret", clientId: "c1" });
    assert.deepEqual(hello.result, {
      brokerId: "b2",
      leader: false,
      leaderUrl: "http://leader:9",
      protocol: 2,
      maxFrameBytes: 1024 * 1024,
    });
    assert.deepEqual((await client.call("stats")).result, { ok: 1 });

    // wrong tokens: rejected, then the socket is closed with 1008
    const intruder = await TestClient.connect(url);
    assert.equal((await intruder.call("hello", { token: "s3crex" })).error?.code, "unauthorized");
    assert.equal((await intruder.call("hello", { token: "" })).error?.code, "unauthorized");
    assert.equal((await intruder.call("push", { jobs: [] })).error?.code, "unauthorized");
    const closed = await intruder.closed;
    assert.equal(closed.code, 1008);

    // hello and a request sent back to back, without waiting: the request is authenticated
    const eager = await TestClient.connect(url);
    eager.send("hello", { token: "s3cret" });
    assert.deepEqual((await eager.call("stats")).result, { ok: 1 });
    await eager.close();

    // bearer header on the upgrade
    const bearer = await TestClient.connect(url, { authorization: "Bearer s3cret" });
    assert.deepEqual((await bearer.call("stats")).result, { ok: 1 });

    // a wrong bearer header refuses the upgrade
    await assert.rejects(TestClient.connect(url, { authorization: "Bearer nope" }));

    assert.equal(backend.ops("stats").length, 3, "only authenticated calls reached the backend");
    assert.equal(backend.ops("push").length, 0);
    await client.close();
    await bearer.close();
  });
});

Deno.test("auth: an unauthenticated socket is closed after the auth timeout", async () => {
  await withServer({ token: "t", authTimeoutMs: 30 }, async ({ url }) => {
    const client = await TestClient.connect(url);
    assert.equal((await client.closed).code, 1008);
  });
});

Deno.test("auth: REST needs the bearer token, healthz does not", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 0 });
  await withServer({ backend, token: "s3cret" }, async ({ url }) => {
    const none = await fetch(`${url}/v1/stats`);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.code, "unauthorized");
    const wrong = await fetch(`${url}/v1/stats`, { headers: { authorization: "Bearer x" } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const right = await fetch(`${url}/v1/stats`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(right.status, 200);
    assert.deepEqual(await right.json(), { ready: 0 });
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(backend.ops("stats").length, 1);
  });
});

Deno.test("push delivery: credits are respected and extra credits arm another claim", async () => {
  await withServer({}, async ({ url, backend }) => {
    const client = await TestClient.connect(url);
    const sub = await client.call("subscribe", { workerId: "w1", credits: 2, types: ["t"] });
    assert.deepEqual(sub.result, { ok: true });
    await backend.until(() => backend.openClaims.length === 1, "first claim");
    const first = backend.openClaims[0];
    assert.equal(first.op.max, 2);
    assert.equal(first.op.workerId, "w1");
    assert.deepEqual(first.op.types, ["t"]);
    assert.ok((first.op.waitMs ?? 0) > 0);

    first.fill([fakeJob("1"), fakeJob("2")]);
    const delivery = await client.next((f) => f.method === "deliver");
    assert.deepEqual(
      (delivery.params as { jobs: { id: string }[] }).jobs.map((j) => j.id),
      ["1", "2"],
    );
    // credits are used up: no claim is parked until the worker grants more
    assert.ok((await client.call("hello")).result); // a round trip
    assert.equal(backend.openClaims.length, 0);

    assert.deepEqual((await client.call("credit", { credits: 1 })).result, { ok: true });
    await backend.until(() => backend.openClaims.length === 1, "claim for 1");
    assert.equal(backend.openClaims[0].op.max, 1);
    await client.call("credit", { credits: 2 });
    await backend.until(() => backend.openClaims.length === 2, "extra claim");
    assert.deepEqual(backend.openClaims.map((c) => c.op.max), [1, 2]);

    backend.openClaims[1].fill([fakeJob("3"), fakeJob("4")]);
    backend.openClaims[0].fill([fakeJob("5")]);
    await client.next((f) =>
      f.method === "deliver" && client.frames.filter((g) => g.method === "deliver").length === 3
    );
    const ids = client.frames.filter((f) => f.method === "deliver")
      .flatMap((f) => (f.params as { jobs: { id: string }[] }).jobs.map((j) => j.id));
    assert.deepEqual(ids.sort(), ["1", "2", "3", "4", "5"]);
    assert.equal(backend.openClaims.length, 0, "5 credits, 5 jobs, nothing parked");
    assert.equal(backend.ops("release").length, 0);
    await client.close();
  });
});

Deno.test("push delivery: jobs that arrive after the connection closed are released", async () => {
  await withServer({}, async ({ url, backend }) => {
    backend.onAbort = { fill: [fakeJob("late")] };
    const client = await TestClient.connect(url);
    await client.call("subscribe", { workerId: "w", credits: 1 });
    await backend.until(() => backend.openClaims.length === 1, "parked claim");
    const signal = backend.openClaims[0].signal;
    await client.close();
    await backend.until(() => backend.ops("release").length === 1, "release");
    assert.equal(signal?.aborted, true);
    assert.deepEqual(backend.ops("release"), [{
      op: "release",
      jobId: "late",
      leaseToken: "lease-late",
    }]);
  });
});

Deno.test("ws: a long-poll claim whose socket closed releases its jobs", async () => {
  await withServer({}, async ({ url, backend }) => {
    backend.onAbort = { fill: [fakeJob("j1"), fakeJob("j2")] };
    const client = await TestClient.connect(url);
    client.send("claim", { workerId: "w", max: 2, waitMs: 10_000 });
    await backend.until(() => backend.openClaims.length === 1, "parked claim");
    await client.close();
    await backend.until(() => backend.ops("release").length === 2, "releases");
    assert.deepEqual(backend.ops("release").map((r) => r.jobId).sort(), ["j1", "j2"]);
  });
});

Deno.test("push delivery: not_leader from a parked claim closes the socket so the client reconnects", async () => {
  await withServer({}, async ({ url, backend }) => {
    const client = await TestClient.connect(url);
    await client.call("subscribe", { workerId: "w", credits: 1 });
    await backend.until(() => backend.openClaims.length === 1, "parked claim");
    backend.openClaims[0].reject(
      new NotLeaderError("lost it", { data: { leaderUrl: "http://leader:7420" } }),
    );
    const closed = await client.closed;
    assert.equal(closed.code, 1012);
    assert.equal(closed.reason, "not_leader http://leader:7420");
  });
});

Deno.test("rest: routes, status codes and error bodies", async () => {
  const backend = new FakeBackend();
  let n = 0;
  backend.handlers.push = (op) => ({
    jobs: (op as Extract<Operation, { op: "push" }>).jobs.map((j) => ({
      id: `id${++n}`,
      duplicate: j.idempotencyKey === "dup",
    })),
  });
  backend.handlers.get = (op) => {
    const { jobId } = op as Extract<Operation, { op: "get" }>;
    if (jobId === "missing") throw new JobNotFoundError("no such job");
    if (jobId === "lost") throw new LeaseLostError();
    if (jobId === "busy") throw new OverloadedError();
    if (jobId === "follower") {
      throw new NotLeaderError("ask the leader", { data: { leaderUrl: "http://l:1" } });
    }
    return { job: sampleJob(jobId) };
  };
  backend.handlers.cancel = () => ({ cancelled: true });
  backend.handlers.stats = () => ({ ready: 3 });
  await withServer({ backend }, async ({ url }) => {
    const post = (body: string) =>
      fetch(`${url}/v1/jobs`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
    const single = await post(JSON.stringify({ type: "email", payload: { to: "a" } }));
    assert.equal(single.status, 201);
    assert.match(single.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await single.json(), { id: "id1", duplicate: false });
    const batch = await post(JSON.stringify({
      jobs: [{ type: "a", payload: 1 }, { type: "b", payload: 2, idempotencyKey: "dup" }],
    }));
    assert.equal(batch.status, 201);
    assert.deepEqual(await batch.json(), {
      jobs: [{ id: "id2", duplicate: false }, { id: "id3", duplicate: true }],
    });
    assert.deepEqual(backend.ops("push")[1].jobs.map((j) => j.type), ["a", "b"]);

    const invalid = await post(JSON.stringify({ type: "", payload: 1 }));
    assert.equal(invalid.status, 400);
    const invalidBody = await invalid.json();
    assert.equal(invalidBody.error.code, "validation");
    assert.match(invalidBody.error.message, /type/);
    const notJson = await post("{nope");
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error.code, "bad_request");
    assert.equal(backend.ops("push").length, 2, "invalid bodies never reach the backend");

    const got = await fetch(`${url}/v1/jobs/abc`);
    assert.equal(got.status, 200);
    assert.equal((await got.json()).id, "abc");
    const cases: [string, number, string][] = [
      ["missing", 404, "job_not_found"],
      ["lost", 409, "lease_lost"],
      ["busy", 429, "overloaded"],
      ["follower", 503, "not_leader"],
    ];
    for (const [id, status, code] of cases) {
      const res = await fetch(`${url}/v1/jobs/${id}`);
      assert.equal(res.status, status, id);
      const body = await res.json();
      assert.equal(body.error.code, code);
      if (code === "overloaded") assert.equal(res.headers.get("retry-after"), "1");
      if (code === "not_leader") assert.equal(body.error.data.leaderUrl, "http://l:1");
    }

    const cancelled = await fetch(`${url}/v1/jobs/abc`, { method: "DELETE" });
    assert.equal(cancelled.status, 200);
    assert.deepEqual(await cancelled.json(), { cancelled: true });
    assert.deepEqual(backend.ops("cancel"), [{ op: "cancel", jobId: "abc" }]);

    const stats = await fetch(`${url}/v1/stats`);
    assert.deepEqual(await stats.json(), { ready: 3 });

    const unknown = await fetch(`${url}/v2/nothing`);
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, "not_found");
    const wrongMethod = await fetch(`${url}/v1/stats`, { method: "POST", body: "{}" });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "GET");
    await wrongMethod.body?.cancel();
    const putJob = await fetch(`${url}/v1/jobs/abc`, { method: "PUT", body: "{}" });
    assert.equal(putJob.status, 405);
    await putJob.body?.cancel();
    const plainWs = await fetch(`${url}/ws`);
    assert.equal(plainWs.status, 400);
    await plainWs.body?.cancel();
  });
});

Deno.test("rest: healthz is 200 on the leader and 503 on a standby", async () => {
  await withServer({}, async ({ url, backend }) => {
    const leader = await fetch(`${url}/healthz`);
    assert.equal(leader.status, 200);
    assert.deepEqual(await leader.json(), { ok: true, leader: true, brokerId: "broker-1" });
    backend.info = { leader: false, brokerId: "broker-2", leaderUrl: "http://l:1" };
    const standby = await fetch(`${url}/healthz`);
    assert.equal(standby.status, 503);
    assert.deepEqual(await standby.json(), {
      ok: false,
      leader: false,
      brokerId: "broker-2",
      leaderUrl: "http://l:1",
    });
  });
});

Deno.test("rest: bodies over the limit get 413, declared or streamed", async () => {
  const backend = new FakeBackend();
  backend.handlers.push = () => ({ jobs: [{ id: "x", duplicate: false }] });
  await withServer({ backend, maxBodyBytes: 100 }, async ({ url }) => {
    const big = JSON.stringify({ type: "t", payload: "x".repeat(200) });
    const declared = await fetch(`${url}/v1/jobs`, {
      method: "POST",
      body: big,
      headers: JSON_TYPE,
    });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).error.code, "too_large");

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 50) controller.enqueue(bytes.slice(i, i + 50));
        controller.close();
      },
    });
    const streamed = await fetch(`${url}/v1/jobs`, {
      method: "POST",
      body: stream,
      headers: JSON_TYPE,
    });
    assert.equal(streamed.status, 413);
    assert.equal((await streamed.json()).error.code, "too_large");

    const small = await fetch(`${url}/v1/jobs`, {
      method: "POST",
      body: JSON.stringify({ type: "t", payload: 1 }),
      headers: JSON_TYPE,
    });
    assert.equal(small.status, 201);
    await small.body?.cancel();
    assert.equal(backend.ops("push").length, 1);
  });
});

Deno.test("shutdown closes every socket, aborts parked claims and stops listening", async () => {
  const backend = new FakeBackend();
  const server = serveBroker({ backend, port: 0 });
  const a = await TestClient.connect(server.url);
  const b = await TestClient.connect(server.url);
  await a.call("subscribe", { workerId: "w", credits: 3 });
  a.send("claim", { workerId: "w2", waitMs: 60_000 });
  await backend.until(() => backend.openClaims.length === 2, "parked claims");
  const signals = backend.openClaims.map((c) => c.signal);
  assert.equal(server.connections, 2);
  await server.shutdown();
  assert.equal((await a.closed).code, 1001);
  assert.equal((await b.closed).code, 1001);
  assert.ok(signals.every((s) => s?.aborted), "parked claims aborted");
  assert.equal(backend.openClaims.length, 0);
  assert.equal(server.connections, 0);
  await server.finished;
  await assert.rejects(fetch(`${server.url}/healthz`));
  await server.shutdown(); // idempotent
});

Deno.test("serveBroker: aborting the signal shuts down; onListen reports the url", async () => {
  const controller = new AbortController();
  let listened: string | undefined;
  const server = serveBroker({
    backend: new FakeBackend(),
    port: 0,
    signal: controller.signal,
    onListen: ({ url }) => (listened = url),
  });
  assert.equal(listened, server.url);
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const client = await TestClient.connect(server.url);
  controller.abort();
  assert.equal((await client.closed).code, 1001);
  await server.finished;
});

Deno.test("createBrokerHandler: mountable, and refuses requests once closed", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 0 });
  const handler = createBrokerHandler({ backend });
  const res = await handler.fetch(new Request("http://x/v1/stats"));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ready: 0 });
  await handler.close();
  const after = await handler.fetch(new Request("http://x/v1/stats"));
  assert.equal(after.status, 503);
  assert.equal((await after.json()).error.code, "shutting_down");
  assert.equal(backend.ops("stats").length, 1);
});
