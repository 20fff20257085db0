/**
 * Hostile access against a real broker (MemoryStore) behind `serveBroker`:
 * lease tokens never reach other clients, scoped tokens, Origin/Host checks,
 * CORS, JSON-only REST bodies.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import type { ClaimedJob, Job } from "../protocol/operations.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { openStalledWebSocket, rawRequest, UPGRADE_HEADERS } from "./_test_raw_http.ts";
import { TestClient } from "./_test_ws_client.ts";
import type { TokenGrant } from "./auth.ts";
import {
  type BrokerServer,
  createBrokerHandler,
  serveBroker,
  type ServeBrokerOptions,
} from "./server.ts";

async function withBroker(
  options: Omit<ServeBrokerOptions, "backend">,
  fn: (ctx: { server: BrokerServer; broker: Broker }) => Promise<void>,
): Promise<void> {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const server = serveBroker({ ...options, backend: broker, port: 0 });
  try {
    await fn({ server, broker });
  } finally {
    await server.shutdown();
    await broker.stop();
  }
}

const JSON_TYPE = { "content-type": "application/json" };

Deno.test("lease tokens: get over WebSocket and REST never shows the token to anyone", async () => {
  await withBroker({}, async ({ server, broker }) => {
    const { jobs: [{ id }] } = await broker.request({
      op: "push",
      jobs: [{ type: "t", payload: 1 }],
    });
    const holder = await TestClient.connect(server.url);
    const claim = await holder.call("claim", { workerId: "holder" });
    const [job] = (claim.result as { jobs: ClaimedJob[] }).jobs;
    assert.equal(job.id, id);

    // A second client reads the job: who holds it and until when, never the token.
    const other = await TestClient.connect(server.url);
    const before = other.frames.length;
    const got = await other.call("get", { jobId: id });
    const record = (got.result as { job: { lease?: Record<string, unknown> } }).job;
    assert.deepEqual(Object.keys(record.lease!).sort(), ["expiresAt", "workerId"]);
    assert.equal(record.lease!.workerId, "holder");
    const raw = JSON.stringify(other.frames.slice(before));
    assert.ok(!raw.includes(job.leaseToken), "the token is nowhere in the reply");
    const rest = await fetch(`${server.url}/v1/jobs/${id}`);
    const text = await rest.text();
    assert.equal(rest.status, 200);
    assert.ok(!text.includes(job.leaseToken));
    assert.equal(JSON.parse(text).lease.workerId, "holder");

    // Without the token the other client cannot touch the lease; the holder still can.
    const stolen = await other.call("heartbeat", { jobId: id, leaseToken: "guess" });
    assert.equal(stolen.error?.code, "lease_lost");
    const done = await holder.call("complete", { jobId: id, leaseToken: job.leaseToken });
    assert.deepEqual(done.result, { ok: true });
    await holder.close();
    await other.close();
  });
});

const TOKENS: TokenGrant[] = [
  { token: "admin-secret", role: "admin" },
  { token: "producer-secret", role: "producer", name: "web" },
  { token: "worker-secret", role: "worker" },
  { token: "mail-worker-secret", role: "worker", types: ["email"] },
];

Deno.test("scoped tokens over WebSocket: each role calls only its methods; typed workers only their types", async () => {
  await withBroker({ tokens: TOKENS }, async ({ server }) => {
    const connect = async (token: string) => {
      const client = await TestClient.connect(server.url);
      assert.ok((await client.call("hello", { token })).result);
      return client;
    };
    const producer = await connect("producer-secret");
    const pushed = await producer.call("push", {
      jobs: [{ type: "email", payload: 1 }, { type: "sms", payload: 2 }],
    });
    const [mailId, smsId] = (pushed.result as { jobs: { id: string }[] }).jobs.map((j) => j.id);
    assert.equal((await producer.call("get", { jobId: mailId })).result !== undefined, true);
    assert.ok((await producer.call("stats")).result);
    for (
      const [method, params] of [
        ["claim", { workerId: "p" }],
        ["subscribe", { workerId: "p", credits: 1 }],
        ["cancel", { jobId: mailId }],
        ["heartbeat", { jobId: mailId, leaseToken: "x" }],
      ] as const
    ) {
      const reply = await producer.call(method, params);
      assert.equal(reply.error?.code, "forbidden", method);
      assert.match(reply.error!.message, /producer token may not call/);
    }

    const worker = await connect("worker-secret");
    for (const method of ["push", "get", "stats", "cancel"]) {
      const params = method === "push"
        ? { jobs: [{ type: "x", payload: 1 }] }
        : method === "stats"
        ? undefined
        : { jobId: mailId };
      assert.equal((await worker.call(method, params)).error?.code, "forbidden", method);
    }

    // A worker limited to "email": naming another type is refused, no types means its own.
    const mailer = await connect("mail-worker-secret");
    const refused = await mailer.call("claim", { workerId: "m", types: ["email", "sms"] });
    assert.equal(refused.error?.code, "forbidden");
    assert.deepEqual(refused.error?.data?.types, ["sms"]);
    const sub = await mailer.call("subscribe", { workerId: "m", types: ["sms"], credits: 1 });
    assert.equal(sub.error?.code, "forbidden");
    const claimed = await mailer.call("claim", { workerId: "m", max: 10 });
    const jobs = (claimed.result as { jobs: ClaimedJob[] }).jobs;
    assert.deepEqual(jobs.map((j) => j.id), [mailId], "only the email job, not the sms one");
    assert.deepEqual(
      (await mailer.call("complete", { jobId: mailId, leaseToken: jobs[0].leaseToken })).result,
      { ok: true },
    );
    // A general worker token subscribes to anything.
    assert.deepEqual(
      (await worker.call("subscribe", { workerId: "w", credits: 1 })).result,
      { ok: true },
    );
    const delivered = await worker.next((f) => f.method === "deliver");
    assert.equal((delivered.params as { jobs: ClaimedJob[] }).jobs[0].id, smsId);

    // The admin may do everything, including cancel.
    const admin = await TestClient.connect(server.url, { authorization: "Bearer admin-secret" });
    const more = await admin.call("push", { jobs: [{ type: "t", payload: 0 }] });
    const moreId = (more.result as { jobs: { id: string }[] }).jobs[0].id;
    assert.deepEqual((await admin.call("cancel", { jobId: moreId })).result, { cancelled: true });
    for (const client of [producer, worker, mailer, admin]) await client.close();
  });
});

Deno.test("scoped tokens over REST: 401 without, 403 for the wrong role, and the --token shorthand is admin", async () => {
  await withBroker({ tokens: TOKENS, token: "legacy-admin" }, async ({ server }) => {
    const call = (method: string, path: string, token?: string, body?: unknown) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...JSON_TYPE,
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const job = { type: "t", payload: 1 };
    const none = await call("POST", "/v1/jobs", undefined, job);
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const pushed = await call("POST", "/v1/jobs", "producer-secret", job);
    assert.equal(pushed.status, 201);
    const { id } = await pushed.json();
    const asWorker = await call("POST", "/v1/jobs", "worker-secret", job);
    assert.equal(asWorker.status, 403);
    assert.equal((await asWorker.json()).error.code, "forbidden");
    for (
      const [method, path, token] of [
        ["GET", "/v1/stats", "worker-secret"],
        ["GET", `/v1/jobs/${id}`, "mail-worker-secret"],
        ["DELETE", `/v1/jobs/${id}`, "producer-secret"],
        ["DELETE", `/v1/jobs/${id}`, "worker-secret"],
      ]
    ) {
      const res = await call(method, path, token);
      assert.equal(res.status, 403, `${method} ${path} as ${token}`);
      assert.equal((await res.json()).error.code, "forbidden");
    }
    const got = await call("GET", `/v1/jobs/${id}`, "producer-secret");
    assert.equal((await got.json()).state, "ready", "nothing was cancelled");
    const cancelled = await call("DELETE", `/v1/jobs/${id}`, "legacy-admin");
    assert.deepEqual(await cancelled.json(), { cancelled: true });
  });
});

Deno.test("origins: a foreign Origin cannot open a WebSocket or call REST; own and allowed origins can", async () => {
  await withBroker({ allowOrigins: ["https://app.example.com"] }, async ({ server, broker }) => {
    const host = `127.0.0.1:${server.addr.port}`;
    const upgrade = (origin?: string) =>
      rawRequest(server.addr, {
        path: "/ws",
        headers: { host, ...UPGRADE_HEADERS, ...(origin === undefined ? {} : { origin }) },
      });
    const evil = await upgrade("http://evil.example");
    assert.equal(evil.status, 403);
    assert.match(evil.body, /forbidden/);
    assert.equal((await upgrade("null")).status, 403);
    assert.equal((await upgrade("https://app.example.com.evil.example")).status, 403);
    assert.equal((await upgrade("https://app.example.com")).status, 101);
    assert.equal((await upgrade(`http://${host}`)).status, 101, "its own origin");
    assert.equal((await upgrade()).status, 101, "no Origin: not a browser");

    // REST from a foreign page: refused before anything runs (a no-cors POST cannot create a job).
    const post = await rawRequest(server.addr, {
      method: "POST",
      path: "/v1/jobs",
      headers: { host, origin: "http://evil.example", ...JSON_TYPE },
      body: JSON.stringify({ type: "t", payload: 1 }),
    });
    assert.equal(post.status, 403);
    assert.equal((await broker.request({ op: "stats" })).totals.pushed, 0);
  });
});

Deno.test("CORS: preflight and headers for allowed origins only", async () => {
  await withBroker({ allowOrigins: ["https://app.example.com"] }, async ({ server }) => {
    const app = "https://app.example.com";
    const preflight = await fetch(`${server.url}/v1/jobs`, {
      method: "OPTIONS",
      headers: {
        origin: app,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), app);
    assert.match(preflight.headers.get("access-control-allow-methods")!, /POST/);
    assert.match(preflight.headers.get("access-control-allow-headers")!, /content-type/);
    assert.match(preflight.headers.get("access-control-allow-headers")!, /authorization/);
    assert.equal(preflight.headers.get("vary"), "Origin");

    const pushed = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      headers: { origin: app, ...JSON_TYPE },
      body: JSON.stringify({ type: "t", payload: 1 }),
    });
    assert.equal(pushed.status, 201);
    assert.equal(pushed.headers.get("access-control-allow-origin"), app);
    await pushed.body?.cancel();
    // Errors carry the CORS headers too, so the page can read them.
    const missing = await fetch(`${server.url}/v1/jobs/999999`, { headers: { origin: app } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("access-control-allow-origin"), app);
    await missing.body?.cancel();

    const foreign = await fetch(`${server.url}/v1/jobs`, {
      method: "OPTIONS",
      headers: { origin: "https://other.example", "access-control-request-method": "POST" },
    });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);
    await foreign.body?.cancel();
    // No Origin (curl, servers): no CORS headers, and OPTIONS says what is allowed.
    const plain = await fetch(`${server.url}/v1/stats`);
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
    await plain.body?.cancel();
    const options = await fetch(`${server.url}/v1/jobs`, { method: "OPTIONS" });
    assert.equal(options.status, 204);
    assert.match(options.headers.get("allow")!, /POST/);
  });
  // Default: no origin is allowed.
  await withBroker({}, async ({ server }) => {
    const res = await fetch(`${server.url}/v1/stats`, {
      headers: { origin: "https://app.example.com" },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    await res.body?.cancel();
  });
});

Deno.test("REST writes need Content-Type: application/json (415), and nothing is pushed otherwise", async () => {
  await withBroker({}, async ({ server, broker }) => {
    const body = JSON.stringify({ type: "t", payload: 1 });
    for (
      const type of [
        undefined,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
      ]
    ) {
      const res = await fetch(`${server.url}/v1/jobs`, {
        method: "POST",
        body: type === undefined ? new TextEncoder().encode(body) : body,
        headers: type === undefined ? {} : { "content-type": type },
      });
      assert.equal(res.status, 415, String(type));
      const error = (await res.json()).error;
      assert.equal(error.code, "unsupported_media_type");
      assert.match(error.message, /Content-Type: application\/json/);
    }
    assert.equal((await broker.request({ op: "stats" })).totals.pushed, 0);
    const ok = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      body,
      headers: { "content-type": "Application/JSON; charset=utf-8" },
    });
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
  });
});

Deno.test("Host check on loopback: a rebinding name is refused, loopback names are served", async () => {
  await withBroker({ hostname: "127.0.0.1" }, async ({ server }) => {
    const port = server.addr.port;
    const get = (host: string, path = "/v1/stats") =>
      rawRequest(server.addr, { path, headers: { host } });
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`]) {
      const res = await get(host);
      assert.equal(res.status, 403, host);
      assert.match(res.body, /Host/);
    }
    const ws = await rawRequest(server.addr, {
      path: "/ws",
      headers: { host: `rebind.example:${port}`, ...UPGRADE_HEADERS },
    });
    assert.equal(ws.status, 403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "localhost"]) {
      assert.equal((await get(host)).status, 200, host);
    }
  });
  // Behind a proxy that keeps the public Host header: that name is listed too.
  await withBroker(
    { hostname: "127.0.0.1", allowHosts: ["queue.example.com"] },
    async ({ server }) => {
      const get = (host: string) =>
        rawRequest(server.addr, { path: "/v1/stats", headers: { host } });
      assert.equal((await get("queue.example.com")).status, 200);
      assert.equal((await get(`localhost:${server.addr.port}`)).status, 200);
      assert.equal((await get("evil.example")).status, 403);
    },
  );
  // Bound to all interfaces (a real name may be in use): no Host check.
  const handler = createBrokerHandler({
    backend: {
      request: () => Promise.reject(new Error("unused")),
      leaderInfo: () => ({ leader: true, brokerId: "b" }),
    },
  });
  const res = await handler.fetch(new Request("http://queue.internal:7420/healthz"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await handler.close();
});

Deno.test("slow consumers: no deliveries once they stop reading, closed past the hard limit; honest workers get every job", async () => {
  const lines: string[] = [];
  const seen = (pattern: RegExp) => lines.some((line) => pattern.test(line));
  await withBroker({
    pauseDeliveryBytes: 256 * 1024,
    maxBufferedBytes: 16 * 1024 * 1024,
    log: (line) => lines.push(line),
  }, async ({ server, broker }) => {
    // A big job to read over and over (its replies fill the slow consumer's buffer).
    const big = "x".repeat(200 * 1024);
    const { jobs: [{ id: bigId }] } = await broker.request({
      op: "push",
      jobs: [{ type: "blob", payload: big }],
    });
    const slow = await openStalledWebSocket(server.addr);
    await slow.send(JSON.stringify({
      id: 1,
      method: "subscribe",
      params: { workerId: "slow", types: ["work"], credits: 1000 },
    }));
    // It asks for the big job again and again and reads nothing, until the
    // broker notices (the kernel's socket buffers absorb the first few MB).
    let id = 100;
    const getBig = () =>
      slow.send(JSON.stringify({ id: id++, method: "get", params: { jobId: bigId } }));
    for (let i = 0; i < 200 && !seen(/not reading: \d+ bytes unread/); i++) {
      await getBig();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(seen(/not reading: \d+ bytes unread/), "the broker saw the consumer lag");
    // Well past the pause threshold, so what the kernel still absorbs cannot drain it.
    for (let i = 0; i < 20; i++) await getBig();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(!seen(/closing a slow consumer/), "lagging, not yet past the hard limit");

    // Jobs pushed now reach its parked claim (for up to 1000 jobs), but are
    // given back instead of delivered; an honest worker then gets them all.
    const { jobs } = await broker.request({
      op: "push",
      jobs: Array.from({ length: 20 }, (_, i) => ({ type: "work", payload: i })),
    });
    await waitUntil(() => seen(/ws#1: delivery paused/), "the slow consumer's delivery paused");
    const honest = await TestClient.connect(server.url);
    await honest.call("subscribe", { workerId: "honest", types: ["work"], credits: 50 });
    const got = new Set<string>();
    await waitUntil(() => {
      for (const frame of honest.frames) {
        if (frame.method === "deliver") {
          for (const job of (frame.params as { jobs: ClaimedJob[] }).jobs) got.add(job.id);
        }
      }
      return got.size === 20;
    }, "all 20 jobs at the honest worker");
    assert.deepEqual([...got].sort(), jobs.map((j) => j.id).sort());
    for (const job of jobs) {
      const { job: record } = await broker.request({ op: "get", jobId: job.id });
      assert.equal(record.lease?.workerId, "honest");
    }
    assert.ok(!seen(/closing a slow consumer/), "delivery paused without closing it");

    // Past the hard limit it is closed rather than sent more.
    for (let i = 0; i < 400 && !seen(/closing a slow consumer/); i++) {
      await getBig();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.ok(seen(/closing a slow consumer: \d+ bytes unread/));
    // The broker still serves everybody else.
    assert.ok((await honest.call("stats")).result);
    slow.close();
    await honest.close();
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("REST answers client mistakes with 4xx and a JSON error, never 500", async () => {
  await withBroker({}, async ({ server, broker }) => {
    const { jobs: [{ id }] } = await broker.request({
      op: "push",
      jobs: [{ type: "t", payload: 1 }],
    });
    const bodies = [
      "",
      "null",
      "[]",
      "5",
      '"x"',
      "{",
      "{}",
      '{"jobs":5}',
      '{"jobs":[]}',
      '{"jobs":[null]}',
      '{"jobs":{"type":"t"}}',
      '{"type":5,"payload":1}',
      '{"type":"t"}',
      '{"type":"t","payload":1,"priority":"high"}',
      '{"type":"t","payload":1,"delayMs":-1}',
      '{"type":"t","payload":1,"runAt":1e400}',
      '{"type":"t","payload":1,"backoff":{"type":"linear"}}',
      '{"type":"t","payload":1,"maxAttempts":0}',
      '{"type":"t","payload":1,"idempotencyKey":""}',
      `{"type":"t","payload":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      `{"type":"t","payload":"${"x".repeat(300 * 1024)}"}`,
      "\u0000\u0001",
    ];
    const statuses: number[] = [];
    const check = async (response: Response, what: string) => {
      const text = await response.text();
      statuses.push(response.status);
      assert.ok(
        response.status >= 400 && response.status < 500,
        `${what}: ${response.status} ${text}`,
      );
      const body = JSON.parse(text);
      assert.equal(typeof body.error.code, "string", what);
      assert.notEqual(body.error.code, "internal", what);
    };
    for (const body of bodies) {
      await check(
        await fetch(`${server.url}/v1/jobs`, { method: "POST", headers: JSON_TYPE, body }),
        `POST ${body.slice(0, 40)}`,
      );
    }
    const requests: [string, string, RequestInit?][] = [
      ["PUT", "/v1/jobs"],
      ["PUT", `/v1/jobs/${id}`, { body: "{}", headers: JSON_TYPE }],
      ["PATCH", "/v1/stats", { body: "{}", headers: JSON_TYPE }],
      ["GET", "/v1/jobs/%E0%A4%A"],
      ["GET", `/v1/jobs/${"9".repeat(300)}`],
      ["GET", "/v1/jobs/999999999"],
      ["GET", "/v1/jobs/-1"],
      ["DELETE", "/v1/jobs/nope"],
      ["GET", `/v1/jobs/${id}/extra`],
      ["GET", "/v1/"],
      ["GET", "/v2/jobs"],
      ["POST", "/healthz", { body: "{}", headers: JSON_TYPE }],
      ["POST", "/v1/jobs", { body: "{}", headers: { "content-type": "text/plain" } }],
      ["POST", "/v1/jobs", {
        body: "{}",
        headers: { ...JSON_TYPE, "content-length": "999999999" },
      }],
      ["GET", "/ws"],
      ["POST", "/ws", { body: "{}", headers: JSON_TYPE }],
    ];
    for (const [method, path, init] of requests) {
      let response: Response;
      try {
        response = await fetch(`${server.url}${path}`, { method, ...init });
      } catch {
        continue; // the client refused to send it (e.g. a lying content-length)
      }
      await check(response, `${method} ${path}`);
    }
    assert.ok(statuses.every((status) => status !== 500));
    // Nothing bad was stored, and the broker still serves.
    assert.equal((await broker.request({ op: "stats" })).totals.pushed, 1);
  });
});

Deno.test("__proto__ keys in payloads are kept as ordinary keys, over WebSocket and REST", async () => {
  await withBroker({}, async ({ server }) => {
    const payloadText = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"a":1}';
    const client = await TestClient.connect(server.url);
    client.ws.send(
      `{"id":"push","method":"push","params":{"jobs":[{"type":"t","payload":${payloadText}}]}}`,
    );
    const pushed = await client.next((f) => f.id === "push");
    const wsId = (pushed.result as { jobs: { id: string }[] }).jobs[0].id;
    const rest = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      headers: JSON_TYPE,
      body: `{"type":"t","payload":${payloadText}}`,
    });
    assert.equal(rest.status, 201);
    const restId = (await rest.json()).id;
    for (const id of [wsId, restId]) {
      // Read back over WebSocket (raw text: the key is there, as an own key).
      client.ws.send(`{"id":"get-${id}","method":"get","params":{"jobId":"${id}"}}`);
      const viaWs = await client.next((f) => f.id === `get-${id}`);
      assert.equal(JSON.stringify((viaWs.result as { job: Job }).job.payload), payloadText);
      const viaRest = await (await fetch(`${server.url}/v1/jobs/${id}`)).text();
      assert.ok(viaRest.includes(payloadText), viaRest);
      const payload = JSON.parse(viaRest).payload;
      assert.ok(Object.hasOwn(payload, "__proto__"));
      assert.deepEqual(JSON.parse(JSON.stringify(payload)), JSON.parse(payloadText));
    }
    // And a claim hands it to the worker unchanged.
    const claimed = await client.call("claim", { workerId: "w", max: 2 });
    assert.equal((claimed.result as { jobs: ClaimedJob[] }).jobs.length, 2);
    for (const job of (claimed.result as { jobs: ClaimedJob[] }).jobs) {
      assert.equal(JSON.stringify(job.payload), payloadText);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    await client.close();
  });
});
